import { describe, expect, it } from "vitest";
import { signParams, signedForm, signingText } from "../../shared/connectors/jushuitan/sign.ts";

// Official docId=70 examples (quoted by ieu/jst-java DefaultJstDigestTest and others).
const SECRET = "e9c5ca33fecb404b8e6cdbd0ef4a6d25";
const APP_KEY = "5b53060f23d84ddf9703056e84fa5a2d";

describe("Jushuitan v2 signing", () => {
  it("matches the official token-request vector", () => {
    const sign = signParams(SECRET, {
      app_key: APP_KEY,
      timestamp: "1639128407",
      grant_type: "authorization_code",
      charset: "utf-8",
      code: "123456",
    });
    expect(sign).toBe("05e3a51e19e0883afd1882ccd309e0b9");
  });

  it("matches the official business-request vector, with biz as compact raw-UTF-8 JSON", () => {
    const biz = JSON.stringify({ page_index: "1", page_size: "100", nicks: ["老板"] });
    expect(biz).toBe('{"page_index":"1","page_size":"100","nicks":["老板"]}');
    const sign = signParams(SECRET, {
      app_key: APP_KEY,
      access_token: "d7b01bf0842a4742a9450e21ffd95f60",
      timestamp: "1639128407",
      version: "2",
      charset: "utf-8",
      biz,
    });
    expect(sign).toBe("395f5a78b446be465ac03a02491296c7");
  });

  it("matches the kocotree/jushuitan-mcp vector", () => {
    expect(signParams("secret", { timestamp: "100", app_key: "app", charset: "utf-8" })).toBe("706427ca94e342781ac36d501151cb10");
  });

  it("signs biz byte for byte: a re-serialised biz gives another sign", () => {
    const base = { app_key: "app", timestamp: "100", charset: "utf-8", version: "2" };
    const compact = signParams("s", { ...base, biz: '{"a":1}' });
    const spaced = signParams("s", { ...base, biz: '{"a": 1}' });
    expect(compact).not.toBe(spaced);
  });

  it("skips empty values and an incoming sign, and sorts keys by code point", () => {
    const params = { b: "2", B: "1", _: "3", empty: "", nothing: undefined, sign: "old" };
    // Code points: "B" (66) < "_" (95) < "b" (98); locale order would put "_" or "b" first.
    expect(signingText("S", params)).toBe("SB1_3b2");
    expect(signParams("S", params)).toBe(signParams("S", { B: "1", _: "3", b: "2" }));
  });

  it("builds the form that is sent: no empty fields, sign added last", () => {
    const form = signedForm("secret", { timestamp: "100", app_key: "app", charset: "utf-8", refresh_token: "" });
    expect(form).toEqual({ timestamp: "100", app_key: "app", charset: "utf-8", sign: "706427ca94e342781ac36d501151cb10" });
  });
});
