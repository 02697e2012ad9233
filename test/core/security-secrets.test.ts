/**
 * Security pass: canary secrets are planted in every credential of the configuration contract, syncs run
 * through happy paths and failure paths (token expiry, wrong secrets, dead letters, unknown outcomes), and
 * every output is searched for them: logs, every value in the state store (run records, dead letters,
 * ledger, checkpoints), run summaries and error messages. Tokens the systems rotate to are canaries too.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runFlowById } from "../../shared/engine/runner.ts";
import { compileValue } from "../../shared/template/index.ts";
import type { Logger } from "../../shared/ports.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { startE2E, type E2E } from "../helpers/e2e.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.close();
  e2e = undefined;
});

function capturingLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, message, ...fields }));
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

const SECRET_NAMES = [
  "JST_APP_SECRET",
  "JST_ACCESS_TOKEN",
  "JST_REFRESH_TOKEN",
  "TPLUS_APP_SECRET",
  "TPLUS_OPEN_TOKEN",
  "TPLUS_REFRESH_TOKEN",
  "KIS_CLIENT_SECRET",
  "KIS_ACCESS_TOKEN",
  "KIS_AUTH_DATA",
  "KIS_REFRESH_AUTH_DATA_TOKEN",
  "KIS_SESSION_ID",
];

async function everyStoredValue(current: E2E): Promise<string> {
  const keys = await current.kv.list("");
  const values = await Promise.all(keys.map(async (k) => `${k}=${(await current.kv.get(k)) ?? ""}`));
  // Token records legitimately hold tokens: that is what the token store is for. Everything else must not.
  return values.filter((v) => !v.startsWith("tok:")).join("\n");
}

function expectNoCanary(haystack: string, canaries: string[], where: string) {
  for (const canary of canaries) {
    if (canary.length < 8) continue;
    expect(haystack.includes(canary), `${where} contains a secret (${canary.slice(0, 4)}…)`).toBe(false);
  }
}

describe("security: no secret in logs, state, run records, dead letters or errors", () => {
  it("happy path, token rotation and dead letters leak nothing", async () => {
    e2e = await startE2E();
    const lines: string[] = [];
    const ports = { ...e2e.ports, logger: capturingLogger(lines) };
    // Break one lookup so dead letters (with source documents and payloads) are written too.
    const refs = new KvReferenceStore(e2e.kv);
    const table = (await refs.get("kis_materials"))!;
    await refs.put({ ...table, rows: table.rows.slice(3) });
    // Expire tokens mid-run so refreshes happen and rotated tokens exist.
    e2e.stack.jushuitan.addFaults([{ kind: "tokenExpired", skip: 2 }]);
    e2e.stack.tplus.addFaults([{ kind: "tokenExpired", path: "otherDispatch/Create", skip: 1 }]);
    e2e.stack.kis.addFaults([{ kind: "authExpired", path: "miscellaneousreceipt/create", skip: 1 }]);

    const summaries = [];
    for (const flow of ["jst-other-in-to-kis", "jst-sales-out-to-tplus"]) {
      const { summary } = await runFlowById(ports, { flowId: flow, runId: `sec-${flow}`, trigger: "cli", budget: { maxSubrequests: 10_000 } });
      summaries.push(summary);
    }
    expect(summaries[0]!.counts.deadLettered).toBeGreaterThan(0);

    const canaries = [...SECRET_NAMES.map((n) => e2e!.env[n]!).filter(Boolean), e2e.stack.kis.credentials().sessionSecret];
    // Rotated credentials issued during the run.
    const rotated = e2e.stack.kis.credentials();
    canaries.push(rotated.accessToken, rotated.authData, rotated.refreshAuthDataToken);
    canaries.push(...e2e.stack.jushuitan.liveTokens().flatMap((t: { accessToken: string; refreshToken: string }) => [t.accessToken, t.refreshToken]));

    expectNoCanary(lines.join("\n"), canaries, "logs");
    expectNoCanary(await everyStoredValue(e2e), canaries, "state store");
    expectNoCanary(JSON.stringify(summaries), canaries, "run summaries");
  });

  it("authentication failures name the problem without the secret", async () => {
    e2e = await startE2E();
    const lines: string[] = [];
    for (const [name, flow] of [
      ["JST_APP_SECRET", "jst-other-in-to-kis"],
      ["TPLUS_APP_SECRET", "jst-sales-out-to-tplus"],
      ["KIS_AUTH_DATA", "jst-other-in-to-kis"],
    ] as const) {
      const wrong = `canary-wrong-${name.toLowerCase()}-0123456789abcdef`;
      const ports = { ...e2e.ports, env: { ...e2e.ports.env, [name]: wrong, KIS_REFRESH_AUTH_DATA_TOKEN: "" }, logger: capturingLogger(lines) };
      const { summary } = await runFlowById(ports, { flowId: flow, runId: `bad-credential-${lines.length}`, trigger: "cli", budget: { maxSubrequests: 200 } });
      expect(summary.outcome === "failed" || summary.counts.deadLettered > 0, `${name}: ${JSON.stringify(summary.error)}`).toBe(true);
      const text = JSON.stringify(summary) + lines.join("\n") + (await everyStoredValue(e2e));
      expectNoCanary(text, [wrong, e2e.env[name]!], `${name} failure`);
    }
  });
});

describe("security: flows cannot read the environment", () => {
  it("no template form reaches environment variables or secrets", () => {
    const canary = "canary-env-secret-0123456789";
    process.env.JST_APP_SECRET = canary;
    const scope = { record: { io_id: 1 }, vars: { lastSyncTime: 0, currentTime: 0 } };
    // {{NAME}} is a run variable or a field of the record (seed 000's {{io_date|datetime}}), never the host environment.
    for (const source of ["{{JST_APP_SECRET}}", "{{env.JST_APP_SECRET}}", "{{process|datetime}}", "{{JST_APP_SECRET|date}}"]) {
      let out: unknown;
      try {
        out = compileValue(source).evaluate(scope);
      } catch {
        out = undefined;
      }
      expect(out === undefined || out === null || out === "", `${source} → ${String(out)}`).toBe(true);
      expect(String(out)).not.toContain(canary);
    }
    // Field references read the current record only.
    for (const source of ["{JST_APP_SECRET}", "{env.JST_APP_SECRET}", "{globalThis.process}", "{constructor.constructor}"]) {
      const value = compileValue(source).evaluate(scope);
      expect(value === undefined || value === null, source).toBe(true);
    }
    for (const source of ["_function JST_APP_SECRET", "_function CONCAT(JST_APP_SECRET, '')", "_function ENV('JST_APP_SECRET')"]) {
      let out: unknown;
      try {
        out = compileValue(source).evaluate(scope);
      } catch {
        out = undefined;
      }
      expect(out === undefined || out === null, source).toBe(true);
    }
    delete process.env.JST_APP_SECRET;
  });
});

describe("security: hosts come from configuration only", () => {
  it("a sync request cannot name a host: unknown body fields are refused before any I/O", async () => {
    // Exercised at the HTTP layer in test/worker/api.test.ts (strict bodies); here the engine: a flow's
    // source endpoint is a path validated against the known Jushuitan endpoints, never a URL.
    const { loadFlow } = await import("../../shared/flow/schema.ts");
    const { seedFlow } = await import("../../shared/flows/index.ts");
    const doc = structuredClone(seedFlow("jst-other-in-to-kis")) as unknown as Record<string, any>;
    doc.source.endpoint = "https://evil.example/open/other/inout/query";
    expect(() => loadFlow(doc)).toThrow(/source\.endpoint/);
    doc.source.endpoint = JST_PATHS.otherInOut;
    doc.target.operation = "//evil.example/x";
    expect(() => loadFlow(doc)).toThrow(/target\.operation/);
  });
});
