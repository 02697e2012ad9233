/**
 * Security review #7 for on-prem T+: the signed Authorization blob (base64 JSON carrying the access token)
 * and the sid cookie are learned at the fetch boundary; an upstream that echoes them leaks neither through
 * the connector's error, once the host redacts it (as every output does).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../shared/ports.ts";
import { createTplusClient, type TplusOnpremConfig } from "../../shared/connectors/tplus/operations.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { redactingFetch } from "../../shared/security/secret-ports.ts";
import { generateIsvKeys, otherDispatchDto, type IsvKeyPair } from "../emulators/tplus/fixtures.ts";
import { echoedSecrets, echoingFetch } from "../helpers/echo-upstream.ts";
import { harness, type Served } from "./tplus-harness.ts";

const h = harness();
let keys: IsvKeyPair;
let main: Served;
beforeAll(async () => {
  keys = await generateIsvKeys();
  main = await h.start({ publicKey: keys.publicPem });
});
afterAll(() => h.closeAll());

describe("on-prem T+: Authorization blob and sid never leak", () => {
  it("a create that echoes the request's Authorization and Cookie: the error, redacted, holds neither", async () => {
    const user = main.emulator.users[0]!;
    const config: TplusOnpremConfig = {
      mode: "onprem",
      baseUrl: main.server.url,
      appKey: main.emulator.appKey,
      appSecret: main.emulator.appSecret,
      orgId: main.emulator.orgId,
      privateKey: keys.privatePem,
      user: user.userName,
      password: user.password,
      account: user.accNum,
    };
    const upstream = echoingFetch((input, init) => fetch(input, init), [{ path: "Create", shape: "tplus" }]);
    const redactor = Redactor.fromEnv({ TPLUS_APP_SECRET: config.appSecret, TPLUS_PASSWORD: config.password, TPLUS_PRIVATE_KEY: config.privateKey });
    const client = createTplusClient(
      config,
      { fetch: redactingFetch(upstream.fetch, redactor), tokenStore: new MemoryTokenStore(), clock: h.clock },
      { retry: { baseDelayMs: 20, maxAttempts: 1 } as never },
    );
    const result = await client
      .write({ operation: "otherDispatch", externalKey: "JST-OP-ECHO", payload: otherDispatchDto("JST-OP-ECHO") })
      .catch((e: unknown) => e);
    const secrets = echoedSecrets(upstream.echoed);
    // The echo carried the signed Authorization blob and the sid cookie.
    expect(upstream.echoed.some((l) => /^authorization:/i.test(l))).toBe(true);
    expect(upstream.echoed.some((l) => /sid=/i.test(l))).toBe(true);
    const raw = JSON.stringify(result) + String((result as Error)?.message ?? "") + JSON.stringify((result as { details?: unknown })?.details ?? null);
    // The connector's own error holds (a cut prefix of) the echoed blob: else the test proves nothing.
    expect(
      secrets.some((s) => raw.includes(s.slice(0, 16))),
      "the error does not hold the echo",
    ).toBe(true);
    const redacted = redactor.redact(raw);
    // Neither whole nor cut: no 12-character start of any echoed credential remains.
    expect(secrets.filter((s) => redacted.includes(s.slice(0, 12))).map((s) => s.slice(0, 8))).toEqual([]);
  });
});
