/**
 * Worker-side test helpers: an isolated emulator stack from the hub (real HTTP servers in Node), the
 * Worker env pointed at it, reference tables filled the way a user would, and reads of what the
 * emulators hold.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { refreshReferenceTable } from "../../shared/engine/references.ts";
import { seedFlow } from "../../shared/flows/index.ts";
import { silentLogger, systemClock } from "../../shared/ports.ts";
import { KvReferenceStore } from "../../shared/state/reference-store.ts";
import { KvTokenStore } from "../../shared/state/token-store.ts";
import { DoFlowLock } from "../../worker/do-lock.ts";
import worker from "../../worker/index.ts";
import type { Env } from "../../worker/env.ts";
import { WorkersKvStore } from "../../worker/kv-store.ts";

export const JST = { otherInOut: "/open/other/inout/query", salesOut: "/open/orders/out/simple/query" };

export interface HubStack {
  id: string;
  urls: { jushuitan: string; tplus: string; kis: string };
  env: Record<string, string>;
  warehouses: Record<string, unknown>[];
  /** The stack's Jushuitan has its rate limits off: the Worker's shared budget is opened up to match (JST_RATE_*). */
  rateUnlimited?: boolean;
}

export async function createStack(body: Record<string, unknown> = {}): Promise<HubStack> {
  const res = await fetch(`${env.EMULATOR_HUB}/__hub/stacks`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`hub answered ${res.status}`);
  const limits = body.limits as { perSecond?: unknown; perMinute?: unknown } | undefined;
  return { ...((await res.json()) as HubStack), rateUnlimited: limits?.perSecond === null && limits?.perMinute === null };
}

/** The Worker's env for a stack: real bindings (local KV, Durable Object) plus the stack's configuration. */
export function workerEnv(stack: HubStack, vars: Record<string, string> = {}): Env {
  // Every run of a Worker waits on one Jushuitan budget (worker/rate-budget-do.ts); a stack without limits gets a wide one.
  const rate = stack.rateUnlimited ? { JST_RATE_PER_SECOND: "1000", JST_RATE_PER_MINUTE: "100000" } : {};
  return { ...(env as unknown as Env), ...stack.env, REQUEST_TIMEOUT_MS: "3000", LOG_LEVEL: "warn", ...rate, ...vars } as Env;
}

export async function fillReferenceTables(stack: HubStack, e: Env) {
  const kv = new WorkersKvStore(e.STATE);
  const references = new KvReferenceStore(kv);
  await references.put({ name: "warehouses", rows: stack.warehouses, updatedAt: Date.now(), source: "upload" });
  const ref = seedFlow("jst-other-in-to-kis").references.find((r) => r.name === "kis_materials")!;
  await refreshReferenceTable(ref, {
    env: stack.env,
    fetch: (input, init) => fetch(input, init),
    tokenStore: new KvTokenStore(kv),
    references,
    clock: systemClock,
    logger: silentLogger,
  });
}

/**
 * Start a flow's incremental reads at `watermark` (its checkpoint in the flow index), as a deployment that has run
 * before. Without one a flow reads one day back, and the merged T+ flow builds only days closed before now: late in
 * the Shanghai day that window is minutes long and may hold no sale, so a test's outcome would depend on the hour.
 */
export async function startFlowAt(e: Env, flowId: string, watermark: number) {
  const lock = new DoFlowLock(e.FLOW_LOCK);
  const { epoch } = await lock.acquire(flowId, "test-seed", 60_000);
  const { committed } = await lock.commitIndex(flowId, "test-seed", epoch, { checkpoint: { watermark, runId: "test-seed", updatedAt: Date.now() } });
  await lock.release(flowId, "test-seed");
  if (!committed) throw new Error(`could not seed the checkpoint of ${flowId}`);
}

export async function fireCron(e: Env, cron: string, scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime }), e, ctx);
  await waitOnExecutionContext(ctx);
}

async function adminState<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`emulator admin ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

export async function sourceDocuments(stack: HubStack, path: string) {
  return (await adminState<{ rows: Record<string, unknown>[] }>(`${stack.urls.jushuitan}/__emulator/state?path=${encodeURIComponent(path)}`)).rows;
}

export async function kisBills(stack: HubStack) {
  return (await adminState<{ bills: Array<{ FBillNo: string; Entry: Record<string, unknown>[] }> }>(`${stack.urls.kis}/__emulator/state`)).bills;
}

export async function tplusDispatches(stack: HubStack) {
  return (
    await adminState<{ vouchers: { otherDispatch: Array<{ ExternalCode: string; payload: Record<string, unknown> }> } }>(`${stack.urls.tplus}/__emulator/state`)
  ).vouchers.otherDispatch;
}

/** Calls the Worker's fetch handler with this env (the API as a client sees it). */
export async function callApi(e: Env, method: string, path: string, options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? e.SYNC_API_TOKEN : options.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined && method !== "GET" && method !== "HEAD") {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`https://bridge.test${path}`, { method, headers, body }), e, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export async function emulatorRequests(url: string): Promise<Array<{ path: string }>> {
  const res = await fetch(`${url}/__emulator/requests`);
  const body = (await res.json()) as unknown;
  return (Array.isArray(body) ? body : ((body as { requests?: unknown[] }).requests ?? [])) as Array<{ path: string }>;
}
