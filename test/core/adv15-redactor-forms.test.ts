/**
 * Adversarial review of issue 15 (the one redactor): derived forms of a secret that an upstream or an
 * output layer actually produces but that `secretForms` does not cover. Each test asserts the secure
 * behaviour and fails on the current code.
 */
import { describe, expect, it } from "vitest";
import { Redactor } from "../../shared/security/redact.ts";

// A realistic rotated token: base64 with '+', '/' and '=' (KIS / T+ / JST tokens are often base64 or JWT-ish).
const TOKEN = "Qk9vX2+tb2tlbi/ZXk5MjEzNDU2Nzg5MA==";
const redactor = () => Redactor.fromEnv({ KIS_ACCESS_TOKEN: TOKEN });
const leaks = (text: string) => {
  const out = redactor().redact(text);
  // No 10-character run of the secret survives in any form the test produced.
  return { out, leaked: out.includes(TOKEN.slice(0, 10)) || out.includes(TOKEN.slice(-12, -2)) };
};

describe("adv15: derived forms of a secret the redactor misses", () => {
  it("adv15 redactor: .NET System.Text.Json / Gson escape '+' and '=' as \\u002B / \\u003D in an echoed JSON body", () => {
    // System.Text.Json's default encoder escapes '+' (and '<', '>', '&', '\'') as \u002B; Gson escapes '=' as \u003d.
    const body = `{"code":401,"message":"invalid access_token ${TOKEN.replace(/\+/g, "\\u002B").replace(/=/g, "\\u003D")}"}`;
    const { out, leaked } = leaks(body);
    expect(out, out).not.toContain("Qk9vX2");
    expect(leaked).toBe(false);
  });

  it("adv15 redactor: JSON with escaped slashes (PHP json_encode, Jackson option) \\/", () => {
    const body = `{"code":100,"msg":"token ${TOKEN.replace(/\//g, "\\/")} expired"}`;
    const { out } = leaks(body);
    expect(out, out).not.toContain("Qk9vX2");
  });

  it("adv15 redactor: lower-case percent-encoding (.NET HttpUtility.UrlEncode gives %2b %2f %3d)", () => {
    const lower = encodeURIComponent(TOKEN).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const { out } = leaks(`GET /koas/app007104/api?access_token=${lower} failed`);
    expect(out, out).not.toContain("Qk9vX2");
  });

  it("adv15 redactor: base64 form of a secret (the promise names base64)", () => {
    const b64 = btoa(`access_token:${TOKEN}`);
    const b64Alone = btoa(TOKEN);
    const out = redactor().redact(`Authorization: Basic ${b64} / echo ${b64Alone}`);
    expect(out, out).not.toContain(b64Alone.slice(0, 16));
  });

  it("adv15 redactor: a truncated prefix of a secret in the middle of a message (followed by a space or quote)", () => {
    // Upstreams commonly cut what they echo: "token 'Qk9vX2+tb2tlbi/ZXk' is invalid".
    const out = redactor().redact(`token '${TOKEN.slice(0, 20)}' is invalid; token ${TOKEN.slice(0, 20)} rejected`);
    expect(out, out).not.toContain(TOKEN.slice(0, 12));
  });

  it("adv15 redactor: a secret shorter than MIN_SECRET_LENGTH (a 5-character T+ on-prem password) is echoed verbatim", () => {
    const r = Redactor.fromEnv({ TPLUS_PASSWORD: "k9#Zq" });
    const out = r.redact(`login failed for user admin with password k9#Zq`);
    expect(out, out).not.toContain("k9#Zq");
  });
  it("adv15 redactor: a connector snippet cut 4-9 characters into a secret (JST snippet() slices at 160 with no mark) keeps the prefix", () => {
    // shared/connectors/jushuitan/client.ts snippet(): .slice(0, 160) before any redaction; maskCutFragments needs >= 10 characters.
    const snippet = `${"x".repeat(151)}${TOKEN}`.slice(0, 160);
    const json = JSON.stringify({ error: { code: "jst_bad_response", details: { snippet } } });
    const out = redactor().redact(json);
    expect(out, out).not.toContain(TOKEN.slice(0, 9));
  });
});
