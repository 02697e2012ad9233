import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS } from "../../shared/engine/window.ts";
import { formatInZone } from "../../shared/util/time.ts";
import { serveOnLoopback, type RunningServer } from "../emulators/node/serve.ts";
import { createKvRestEmulator } from "../emulators/kv-rest/index.ts";
import { E2E_START } from "../helpers/e2e.ts";
import { startCliHarness, type CliHarness } from "./cli-harness.ts";
import { core, credentialInputs, resetCore } from "../helpers/actions-core-fake.ts";

// @actions/core replaced by the typed fake in test/helpers/actions-core-fake.ts, recording what run() does.

vi.mock("@actions/core", async () => (await import("../helpers/actions-core-fake.ts")).actionsCore);

const { run } = await import("../../action/main.ts");

const KIS = "jst-other-in-to-kis";
const day = (ms: number) => formatInZone(ms, "YYYY-MM-DD");
const FROM = day(E2E_START - 5 * DAY_MS);
const TO = day(E2E_START - DAY_MS);

let h: CliHarness | undefined;
const servers: RunningServer[] = [];
beforeEach(resetCore);
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function runAction(harness: CliHarness, env: Record<string, string> = {}) {
  return run({ clock: harness.e2e.clock, cwd: harness.dir, env: { REQUEST_TIMEOUT_MS: "400", ...env } });
}

describe("action run() with @actions/core mocked, emulators over HTTP", () => {
  it("backfills a range: outputs, one group and one summary row per window, every secret masked", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    core.state.inputs = { ...credentialInputs(h), flow: KIS, from: FROM, to: TO, "dry-run": "false", state: "file", "state-dir": ".jst-bridge" };
    await runAction(h);

    expect(core.state.failed).toEqual([]);
    const bills = h.e2e.stack.kis.bills();
    expect(bills.length).toBeGreaterThan(10);
    expect(core.state.outputs["documents-written"]).toBe(String(bills.length));
    expect(Number(core.state.outputs["documents-read"])).toBeGreaterThanOrEqual(bills.length);
    expect(core.state.outputs["documents-dead-lettered"]).toBe("0");
    expect(core.state.outputs.outcome).toBe("success");
    expect(core.state.groups).toHaveLength(5);
    expect(core.state.groups[0]).toMatch(/^Window 1\/5: \d{4}-\d{2}-\d{2}$/);
    const table = core.state.summary.tables[0]!;
    expect(table).toHaveLength(1 + 5 + 1); // header, windows, total
    expect(table.at(-1)![4]).toBe(String(bills.length));
    expect(core.state.summary.writes).toBe(1);
    const env = h.e2e.env as Record<string, string>;
    for (const name of [
      "JST_APP_SECRET",
      "JST_ACCESS_TOKEN",
      "JST_REFRESH_TOKEN",
      "TPLUS_APP_SECRET",
      "TPLUS_OPEN_TOKEN",
      "KIS_CLIENT_SECRET",
      "KIS_ACCESS_TOKEN",
      "KIS_AUTH_DATA",
    ]) {
      expect(core.state.secrets, name).toContain(env[name]);
    }
    expect(core.state.secrets).not.toContain(env.JST_BASE_URL);
    // No secret value reaches the log lines.
    const logs = core.state.logs.join("\n");
    for (const s of core.state.secrets) expect(logs).not.toContain(s);
  });

  it("dead letters become warning annotations; fail-on-dead-letters fails the step", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    h.e2e.stack.kis.addFaults([{ kind: "bizError", path: "miscellaneousreceipt/create", times: 2, reason: "物料已禁用" }]);
    core.state.inputs = { ...credentialInputs(h), flow: KIS, from: FROM, to: TO, "fail-on-dead-letters": "true" };
    await runAction(h);
    expect(core.state.outputs["documents-dead-lettered"]).toBe("2");
    expect(core.state.outputs.outcome).toBe("partial");
    const annotations = core.state.warnings.filter((w) => w.title?.startsWith("Dead letter"));
    expect(annotations).toHaveLength(2);
    expect(annotations[0]!.message).toContain("物料已禁用");
    expect(core.state.failed).toEqual([expect.stringContaining("2 document(s) of jst-other-in-to-kis were dead-lettered")]);
  });

  it("command reconcile: a bill deleted in KIS fails the step, with drift outputs, a summary table and an annotation", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    const sync = await h.cli(["sync", KIS, "--from", FROM, "--to", TO]);
    expect(sync.code, sync.stderr).toBe(0);
    core.state.inputs = { ...credentialInputs(h), command: "reconcile", flow: KIS, from: FROM, to: TO };
    await runAction(h);
    expect(core.state.failed).toEqual([]);
    expect(core.state.outputs.drift).toBe("0");

    const victim = h.e2e.stack.kis.bills()[0]!;
    expect(h.e2e.stack.kis.removeBill(victim.FBillNo)).toBe(true);
    core.state.outputs = {};
    core.state.summary = { headings: [], raw: [], tables: [], writes: 0 };
    await runAction(h);
    expect(core.state.outputs).toMatchObject({ drift: "1", missing: "1" });
    expect(core.state.failed).toEqual([expect.stringContaining("reconcile jst-other-in-to-kis: 1 day/warehouse row(s) differ (1 missing")]);
    expect(core.state.warnings).toContainEqual({
      message: `document ${victim.FBillNo} is missing in the target`,
      title: "jst-bridge reconcile jst-other-in-to-kis",
    });
    const table = core.state.summary.tables[0]!;
    expect(table.some((row) => row.at(-1) === "DRIFT" && row[0] === String(victim.Head.Fdate).slice(0, 10))).toBe(true);
  });

  it("invalid inputs fail with every problem named; a non-Error throw still reaches setFailed", async () => {
    core.state.inputs = { flow: "", state: "s3", "dry-run": "maybe" };
    await run({ env: {} });
    expect(core.state.failed).toHaveLength(1);
    expect(core.state.failed[0]).toContain("input flow: flow is required");
    expect(core.state.failed[0]).toContain("input state: state must be file or kv");
    expect(core.state.failed[0]).toContain("input dry-run: dry-run must be true or false");

    core.state.failed = [];
    core.state.inputs = { flow: "jst-other-in-to-kis", from: "2024-06-01" };
    await run({ env: {} });
    expect(core.state.failed).toEqual([expect.stringContaining("input to is missing — give both input from and input to for a backfill")]);

    core.state.failed = [];
    core.state.throwOnGetInput = "a plain string, not an Error";
    await run({ env: {} });
    expect(core.state.failed).toEqual(["a plain string, not an Error"]);
  });

  it("shared state: a first sync through the KV REST backend, then a CLI backfill of the same range writes nothing new", async () => {
    h = await startCliHarness();
    const token = "cf-test-api-token-1234";
    const kvEmu = createKvRestEmulator({ apiToken: token, accountId: "acc123", now: () => h!.e2e.clock.now() });
    const server = await serveOnLoopback(kvEmu.app);
    servers.push(server);
    const kvEnv = { CF_ACCOUNT_ID: "acc123", CF_API_TOKEN: token, CF_KV_NAMESPACE_ID: "ns-state", CF_API_BASE_URL: `${server.url}/client/v4` };
    const kvFlags = ["--state", "kv"];
    const refs = await h.fillReferences(kvFlags.concat([]));
    // The CLI reads CF_* from its environment here (the .env holds the upstream credentials).
    expect(refs.up.code).toBe(1);
    expect(refs.up.stderr).toContain("--state kv needs CF_ACCOUNT_ID");
    const up = await h.cli(["reference", "upload", "warehouses", "warehouses.csv", ...kvFlags], { env: kvEnv });
    const refresh = await h.cli(["reference", "refresh", "kis_materials", "--flow", KIS, ...kvFlags], { env: kvEnv });
    expect([up.code, refresh.code], up.stderr + refresh.stderr).toEqual([0, 0]);

    // First sync: the Action, state in KV (credentials as inputs, the KV token as an input too).
    core.state.inputs = {
      ...credentialInputs(h),
      flow: KIS,
      from: FROM,
      to: TO,
      state: "kv",
      "cloudflare-account-id": "acc123",
      "cloudflare-api-token": token,
      "kv-namespace-id": "ns-state",
    };
    await runAction(h, { CF_API_BASE_URL: kvEnv.CF_API_BASE_URL });
    expect(core.state.failed).toEqual([]);
    expect(core.state.secrets).toContain(token);
    const written = Number(core.state.outputs["documents-written"]);
    expect(written).toBeGreaterThan(10);
    expect(Object.keys(kvEmu.state()["ns-state"] ?? {}).some((k) => k.startsWith("ledger:jst-other-in-to-kis:"))).toBe(true);

    // Then the CLI over the same range, same KV: the shared ledger skips everything; KIS sees no create.
    h.e2e.stack.kis.clearRequests();
    const cli = await h.cli(["sync", KIS, "--from", FROM, "--to", TO, "--json", ...kvFlags], { env: kvEnv });
    expect(cli.code, cli.stderr).toBe(0);
    const report = JSON.parse(cli.stdout);
    expect(report.counts.written).toBe(0);
    expect(report.counts.alreadyExisted).toBe(0);
    expect(report.counts.skipped).toBe(written);
    expect(h.e2e.stack.kis.requests().filter((r) => r.path.endsWith("/create"))).toEqual([]);
    expect(h.e2e.stack.kis.bills()).toHaveLength(written);
  });
});

describe("action command doctor", () => {
  it("logs the checklist, writes a summary table and passes when nothing fails", async () => {
    h = await startCliHarness();
    await h.fillReferences();
    core.state.inputs = { ...credentialInputs(h), command: "doctor", flow: KIS };
    await runAction(h);
    expect(core.state.failed, core.state.logs.join("\n")).toEqual([]);
    expect(core.state.logs.join("\n")).toMatch(/✓ \[kis\] credentials/);
    expect(core.state.summary.headings).toContain(`jst-bridge doctor ${KIS}`);
  });
});
