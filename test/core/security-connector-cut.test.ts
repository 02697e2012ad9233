/**
 * Issue 15 adversary finding 4: connectors cut upstream text with the redactor's cut(), not .slice(), so a
 * cut 4–7 characters into a secret (too short for the redactor's prefix rule) never keeps its start.
 */
import { describe, expect, it } from "vitest";
import { parseEnvelope } from "../../shared/connectors/jushuitan/client.ts";
import { redactor as kisRedactor } from "../../shared/connectors/kis/errors.ts";
import { Redactor } from "../../shared/security/redact.ts";

const TOKEN = "Qk9vX2tb2tlbiZXk5MjEzNDU2Nzg5MA";

describe("connector excerpts are cut by the redactor", () => {
  it("jushuitan: an unreadable answer's snippet cut 5 characters into the access token keeps none of it", () => {
    const page = `<html><body>${"x".repeat(155)}${TOKEN}</body></html>`;
    const known = new Redactor().add(TOKEN);
    const { error } = parseEnvelope({ path: "/open/orders/out/simple/query", httpStatus: 502 }, page, (t, max) => known.cut(t, max));
    const snippet = String((error?.details as { bodySnippet?: string } | undefined)?.bodySnippet);
    expect(snippet, snippet).not.toContain(TOKEN.slice(0, 5));
  });

  it("kis: a description cut 6 characters into a secret keeps none of it", () => {
    const redact = kisRedactor(() => [TOKEN]);
    const out = redact.cut!(`${"y".repeat(194)}${TOKEN}`, 200);
    expect(out, out).not.toContain(TOKEN.slice(0, 6));
  });
});
