import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { kisConfigFromEnv } from "../../shared/connectors/kis/client.ts";

const full = {
  KIS_CLIENT_ID: "cid-123",
  KIS_CLIENT_SECRET: "very-secret-client-secret",
  KIS_ACCESS_TOKEN: "at-super-secret-token",
  KIS_AUTH_DATA: "ad-super-secret-auth-data",
  KIS_GW_ROUTER_ADDR: "gw.example:30001",
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    kisConfigFromEnv(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("kisConfigFromEnv", () => {
  it("reads the public-cloud variables with the default base URL", () => {
    const c = kisConfigFromEnv(full);
    expect(c).toEqual({
      baseUrl: "https://api.kingdee.com",
      clientId: "cid-123",
      clientSecret: full.KIS_CLIENT_SECRET,
      accessToken: full.KIS_ACCESS_TOKEN,
      authData: full.KIS_AUTH_DATA,
      gwRouterAddr: "gw.example:30001",
    });
  });

  it("reads private-cloud AccountDB, the refresh values and a custom base URL", () => {
    const c = kisConfigFromEnv({
      ...full,
      KIS_BASE_URL: "https://kis.example.com/",
      KIS_ACCOUNT_DB: "AIS20240101",
      KIS_SESSION_ID: "sid-1",
      KIS_REFRESH_AUTH_DATA_TOKEN: "rt-1",
    });
    expect(c).toMatchObject({ baseUrl: "https://kis.example.com", accountDb: "AIS20240101", sessionId: "sid-1", refreshAuthDataToken: "rt-1" });
  });

  it("names every missing variable (empty counts as missing)", () => {
    const e = configError({ ...full, KIS_ACCESS_TOKEN: undefined, KIS_AUTH_DATA: "  " });
    expect(e.message).toContain("KIS_ACCESS_TOKEN");
    expect(e.message).toContain("KIS_AUTH_DATA");
    expect(e.message).not.toContain("KIS_CLIENT_ID");
    expect(e.details).toMatchObject({ missing: ["KIS_ACCESS_TOKEN", "KIS_AUTH_DATA"] });
    expect(e.hint).toContain("docs/targets-kis.md");
    const all = configError({});
    for (const name of ["KIS_CLIENT_ID", "KIS_CLIENT_SECRET", "KIS_ACCESS_TOKEN", "KIS_AUTH_DATA", "KIS_GW_ROUTER_ADDR"]) {
      expect(all.message).toContain(name);
    }
  });

  it("names a malformed base URL and never echoes any value", () => {
    const env = { ...full, KIS_BASE_URL: "not a url at-super-secret-token", KIS_GW_ROUTER_ADDR: undefined };
    const e = configError(env);
    expect(e.message).toContain("KIS_BASE_URL");
    expect(e.message).toContain("KIS_GW_ROUTER_ADDR");
    const everything = JSON.stringify({ message: e.message, hint: e.hint, details: e.details, json: e.toJSON() });
    for (const secret of [full.KIS_CLIENT_SECRET, full.KIS_ACCESS_TOKEN, full.KIS_AUTH_DATA, "not a url"]) {
      expect(everything).not.toContain(secret);
    }
  });
});
