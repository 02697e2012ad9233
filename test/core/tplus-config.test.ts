import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/errors.ts";
import { tplusConfigFromEnv } from "../../shared/connectors/tplus/operations.ts";

const CLOUD = {
  TPLUS_MODE: "cloud",
  TPLUS_APP_KEY: "ak-cloud-123",
  TPLUS_APP_SECRET: "s3cr3t-cloud-value",
  TPLUS_REFRESH_TOKEN: "rt-refresh-secret-value",
};

const ONPREM = {
  TPLUS_MODE: "onprem",
  TPLUS_BASE_URL: "http://192.168.1.20:8890/",
  TPLUS_APP_KEY: "ak-onprem-1",
  TPLUS_APP_SECRET: "s3cr3t-onprem-value",
  TPLUS_ORG_ID: "90001234",
  TPLUS_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\\nMIIBVQ-secret-key-body\\n-----END PRIVATE KEY-----",
  TPLUS_USER: "demo",
  TPLUS_PASSWORD: " pass with spaces ",
  TPLUS_ACCOUNT: "001",
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    tplusConfigFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

function neverEchoes(error: ConfigError, env: Record<string, string | undefined>) {
  const text = `${error.message}\n${error.hint}\n${JSON.stringify(error)}`;
  for (const [name, value] of Object.entries(env)) {
    if (name === "TPLUS_MODE" || !value || value.length < 6) continue;
    expect(text).not.toContain(value.trim());
  }
}

describe("tplusConfigFromEnv", () => {
  it("builds a cloud config with the default gateway URL", () => {
    expect(tplusConfigFromEnv(CLOUD)).toEqual({
      mode: "cloud",
      baseUrl: "https://openapi.chanjet.com",
      appKey: "ak-cloud-123",
      appSecret: "s3cr3t-cloud-value",
      refreshToken: "rt-refresh-secret-value",
    });
  });

  it("builds an on-prem config; the password keeps its spaces, the URL loses its trailing slash", () => {
    const config = tplusConfigFromEnv({ ...ONPREM, TPLUS_MODE: " OnPrem " });
    expect(config).toMatchObject({ mode: "onprem", baseUrl: "http://192.168.1.20:8890", orgId: "90001234", account: "001", password: " pass with spaces " });
  });

  it("names TPLUS_MODE when it is missing or not cloud/onprem", () => {
    expect(configError({}).message).toContain("missing TPLUS_MODE");
    const bad = configError({ ...CLOUD, TPLUS_MODE: "saas" });
    expect(bad.message).toContain("TPLUS_MODE");
    expect(bad.message).not.toContain("saas");
  });

  it("cloud: names the missing app secret and the missing token, never the values", () => {
    const env = { ...CLOUD, TPLUS_APP_SECRET: "", TPLUS_REFRESH_TOKEN: undefined };
    const error = configError(env);
    expect(error.message).toContain("TPLUS_MODE=cloud");
    expect(error.message).toContain("TPLUS_APP_SECRET");
    expect(error.message).toContain("TPLUS_REFRESH_TOKEN (or TPLUS_OPEN_TOKEN)");
    expect(error.details?.missing).toEqual(["TPLUS_APP_SECRET", "TPLUS_REFRESH_TOKEN (or TPLUS_OPEN_TOKEN)"]);
    expect(error.hint).toMatch(/docs\/targets-tplus\.md/);
    neverEchoes(error, CLOUD);
  });

  it("cloud: an open token alone is enough", () => {
    const config = tplusConfigFromEnv({ ...CLOUD, TPLUS_REFRESH_TOKEN: undefined, TPLUS_OPEN_TOKEN: "ot-value" });
    expect(config).toMatchObject({ mode: "cloud", openToken: "ot-value" });
  });

  it("on-prem: every missing variable is named", () => {
    for (const name of ["TPLUS_BASE_URL", "TPLUS_APP_KEY", "TPLUS_APP_SECRET", "TPLUS_PRIVATE_KEY", "TPLUS_USER", "TPLUS_PASSWORD", "TPLUS_ACCOUNT"]) {
      // TPLUS_ORG_ID is optional: user/password login sends an empty orgId (tplus-vendor-true.test.ts).
      const env = { ...ONPREM, [name]: "  " };
      const error = configError(env);
      expect(error.message).toContain("TPLUS_MODE=onprem");
      expect(error.details?.missing).toEqual([name]);
      neverEchoes(error, ONPREM);
    }
  });

  it("on-prem does not need cloud tokens; cloud does not need on-prem login", () => {
    expect(() => tplusConfigFromEnv(ONPREM)).not.toThrow();
    expect(() => tplusConfigFromEnv(CLOUD)).not.toThrow();
  });

  it("an invalid base URL is named without echoing it", () => {
    const env = { ...ONPREM, TPLUS_BASE_URL: "ftp://secret-host.internal" };
    const error = configError(env);
    expect(error.message).toContain("invalid TPLUS_BASE_URL (must be an http(s) URL)");
    expect(error.message).not.toContain("secret-host");
  });
});
