/**
 * Issue 15 adversary finding 5: a secret-named value shorter than the redactor's minimum is only masked in
 * a credential context, so the CLI says so at start (names the variable, never the value).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliHarness, startCliHarness } from "./cli-harness.ts";

let h: CliHarness;
beforeAll(async () => {
  h = await startCliHarness({ otherInOut: 1, salesOut: 1, days: 1 });
}, 30_000);
afterAll(() => h?.close());

describe("short secrets", () => {
  it("the CLI warns about a secret-named value under the minimum length, without printing it", async () => {
    const r = await h.cli(["reference", "list"], { env: { TPLUS_PASSWORD: "k9#Zq" } });
    expect(r.stderr).toContain("TPLUS_PASSWORD has fewer than 6 characters");
    expect(r.stderr + r.stdout).not.toContain("k9#Zq");
  });
});
