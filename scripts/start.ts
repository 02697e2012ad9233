/**
 * `npm start`: the whole product on this machine. Without real credentials in .dev.vars it starts the
 * Jushuitan, T+ and KIS emulators (seeded sample data), runs the Worker under `wrangler dev` (local KV
 * and Durable Object, --test-scheduled) pointed at them, fills the reference tables, fires the cron of
 * each flow once, prints the run summaries and the local URL, and keeps serving until Ctrl+C.
 * With JST_APP_KEY set in .dev.vars it talks to the real systems instead (wrangler reads .dev.vars).
 *
 *   node scripts/start.ts [--once] [--port 8787]
 *   --once   exit after printing the summaries (used by the test of this script)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatDoctorReport } from "../shared/doctor/index.ts";
import { JST_PATHS } from "../test/emulators/jushuitan/index.ts";
import { serveOnLoopback, type RunningServer } from "../test/emulators/node/serve.ts";
import { createEmulatorStack, warehouseReferenceRows } from "../test/emulators/stack.ts";
import { tokenWeakness } from "../shared/security/token-strength.ts";
import { devVarsFrom, wranglerDevArgs, writePrivateEnvFile } from "./start-args.ts";

const { values: options } = parseArgs({ options: { once: { type: "boolean", default: false }, port: { type: "string" } } });
const once = options.once;
const portArg = options.port;
const port = Number(portArg ?? process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`--port must be a TCP port number (got ${String(portArg ?? process.env.PORT)})`);
  process.exit(2);
}
const root = join(import.meta.dirname, "..");
const base = `http://127.0.0.1:${port}`;

function devVars(): Record<string, string> {
  const path = join(root, ".dev.vars");
  return existsSync(path) ? devVarsFrom(readFileSync(path, "utf8")) : {};
}

const real = devVars();
const useEmulators = !real.JST_APP_KEY;
const servers: RunningServer[] = [];
let wrangler: ChildProcess | undefined;
const stateDir = mkdtempSync(join(tmpdir(), "jst-bridge-start-"));

async function shutdown(code: number): Promise<never> {
  // wrangler runs in its own process group (it starts workerd): end the whole group.
  if (wrangler?.pid && wrangler.exitCode === null) {
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {
      wrangler.kill("SIGTERM");
    }
  }
  await Promise.all(servers.map((s) => s.close()));
  rmSync(stateDir, { recursive: true, force: true });
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

async function serveEmulators() {
  const stack = createEmulatorStack({
    jushuitan: {
      seed: 2024,
      documents: { [JST_PATHS.otherInOut]: 600, [JST_PATHS.salesOut]: 400, [JST_PATHS.purchaseIn]: 50, [JST_PATHS.aftersaleReceived]: 50 },
      range: { from: Date.now() - 3 * 86_400_000, to: Date.now() - 10 * 60_000 },
    },
  });
  const ports = [8701, 8702, 8703];
  const apps = [stack.jushuitan, stack.tplus, stack.kis];
  for (let i = 0; i < apps.length; i++) {
    // Fixed ports when free (so `npm run emulators`-style URLs are familiar), any free port otherwise.
    servers.push(await serveOnLoopback(apps[i]!.app, ports[i]).catch(() => serveOnLoopback(apps[i]!.app, 0)));
  }
  const [jst, tplus, kis] = servers as [RunningServer, RunningServer, RunningServer];
  console.log(`emulators: 聚水潭 Jushuitan ${jst.url} · 畅捷通 T+ ${tplus.url} · 金蝶 KIS ${kis.url}`);
  return stack.env({ jushuitan: jst.url, tplus: tplus.url, kis: kis.url });
}

async function waitForHealth(timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (wrangler?.exitCode !== null && wrangler?.exitCode !== undefined) throw new Error(`wrangler dev exited with code ${wrangler.exitCode}`);
    if (Date.now() > until) throw new Error(`the Worker did not answer ${base}/health within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function api(token: string, method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { "Content-Type": contentType } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => null)) as any;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${json?.error?.message ?? ""} ${json?.error?.hint ? `(${json.error.hint})` : ""}`);
  return json;
}

async function main() {
  const vars: Record<string, string> = useEmulators ? await serveEmulators() : {};
  // 37 characters: the Worker refuses an API token shorter than 32.
  const token = useEmulators ? `demo-${randomBytes(16).toString("hex")}` : real.SYNC_API_TOKEN;
  if (!token) {
    console.error("SYNC_API_TOKEN is missing from .dev.vars: add it (any long random string) so the API and dashboard can be used.");
    return shutdown(1);
  }
  if (useEmulators) Object.assign(vars, { SYNC_API_TOKEN: token, MAX_SUBREQUESTS: "1000", LOG_LEVEL: "warn" });
  console.log(useEmulators ? "mode: emulators (no JST_APP_KEY in .dev.vars)" : "mode: real systems (credentials from .dev.vars)");

  const weakness = tokenWeakness(token, 32);
  if (weakness)
    console.warn(`SYNC_API_TOKEN in .dev.vars is too weak (${weakness}): the API and dashboard stay closed until it is replaced (openssl rand -hex 32).`);
  // No credential on the command line (ps shows argv to every local user): a 0600 env file in the 0700 state directory.
  const envFile = Object.keys(vars).length ? writePrivateEnvFile(stateDir, vars) : undefined;
  const wranglerArgs = ["wrangler", ...wranglerDevArgs({ port, stateDir, ...(envFile ? { envFile } : {}) })];
  if (
    await fetch(`${base}/health`).then(
      () => true,
      () => false,
    )
  ) {
    console.error(`port ${port} is already serving something (another npm start?): stop it, or run npm start -- --port <other>`);
    return shutdown(1);
  }
  wrangler = spawn(join(root, "node_modules/.bin/wrangler"), wranglerArgs.slice(1), {
    cwd: root,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  await waitForHealth(90_000);

  if (useEmulators) {
    // The only table a user must provide; kis_materials fills itself from KIS before the first run needs it.
    await api(token, "POST", "/reference/warehouses", warehouseReferenceRows());
    console.log(`reference tables: warehouses (${warehouseReferenceRows().length} rows, uploaded); kis_materials fills itself from KIS on the first run`);
  }

  const { flows } = await api(token, "GET", "/flows");
  const started = Date.now();
  for (const flow of flows as Array<{ id: string; schedule: { cron: string } | null }>) {
    if (!flow.schedule) continue;
    const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent(flow.schedule.cron).replace(/%20/g, "+")}`);
    if (!res.ok) throw new Error(`firing cron ${flow.schedule.cron} answered ${res.status}`);
  }
  // The cron handler finishes in the background (ctx.waitUntil): wait for each flow's run record.
  const summaries = new Map<string, any>();
  const until = Date.now() + 120_000;
  while (summaries.size < flows.length && Date.now() < until) {
    for (const flow of flows as Array<{ id: string }>) {
      if (summaries.has(flow.id)) continue;
      const { runs } = await api(token, "GET", `/runs?flow=${flow.id}&limit=1`);
      if (runs[0] && runs[0].startedAt >= started - 60_000 && runs[0].finishedAt) summaries.set(flow.id, runs[0]);
    }
    if (summaries.size < flows.length) await new Promise((r) => setTimeout(r, 500));
  }

  console.log("\n同步结果 / run summary");
  console.log("flow                      outcome     read  written  skipped  dead-lettered  subrequests");
  for (const flow of flows as Array<{ id: string }>) {
    const s = summaries.get(flow.id);
    if (!s) {
      console.log(`${flow.id.padEnd(26)}(no run finished in time)`);
      continue;
    }
    const c = s.counts ?? {};
    console.log(
      `${flow.id.padEnd(26)}${String(s.outcome).padEnd(12)}${String(c.read).padStart(4)}${String(c.written).padStart(9)}${String(c.skipped).padStart(9)}${String(c.deadLettered).padStart(15)}${String(s.subrequests).padStart(13)}`,
    );
    if (s.error) console.log(`  error: ${s.error.message}${s.error.hint ? ` — ${s.error.hint}` : ""}`);
  }
  // The go-live checklist against the same systems (GET /doctor; `npx jst-bridge doctor` does the same from a shell).
  const doctor = await api(token, "GET", "/doctor").catch((error: unknown) => ({ error }));
  console.log(
    `\n${"error" in doctor ? `doctor failed: ${doctor.error instanceof Error ? doctor.error.message : String(doctor.error)}` : formatDoctorReport(doctor)}`,
  );
  console.log(`\nWorker:    ${base}  (dashboard: ${base}/ · API: ${base}/flows)`);
  if (useEmulators) console.log(`API token: ${token}  (demo token for this session; sign in to the dashboard with it)`);
  else console.log("API token: SYNC_API_TOKEN from .dev.vars");
  const failed = [...summaries.values()].some((s) => s.outcome === "failed") || summaries.size < flows.length;
  if (once) return shutdown(failed ? 1 : 0);
  console.log("Serving; press Ctrl+C to stop.");
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
