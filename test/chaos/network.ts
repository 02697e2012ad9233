/**
 * Killing one Worker invocation the way the platform does: its network, KV and Durable Object calls stop
 * answering at one instant and never answer again. Only the platform is stubbed:
 *   - the network: the doomed invocation gets emulator base URLs on a marker host (`<tag>.chaos.invalid`);
 *     a wrapper around globalThis.fetch (installed once per isolate) forwards those to the hub until the
 *     doom strikes, then leaves every request hanging (it rejects only when the caller aborts it);
 *   - KV and the FlowLock namespace: the doomed env gets proxies that hang once the doom struck.
 * Other invocations (normal env, real hub URLs) pass straight through, so the next invocation runs on a
 * healthy network while the dead one can never reach a target, write state or release its lease.
 */
import type { Env } from "../../worker/env.ts";

export interface DoomPlan {
  /** Target writes answered before the doom strikes. */
  afterWrites: number;
  /** "afterAnswer": the next request after N answered writes hangs; "beforeAnswer": write N+1 is sent (it commits) and its answer is lost. */
  mode: "afterAnswer" | "beforeAnswer";
}

export interface Doom {
  readonly tag: string;
  readonly plan: DoomPlan;
  /** Target writes answered so far. */
  writes: number;
  /** External keys (T+ ExternalCode, KIS FBillNo) of every write this invocation sent. */
  readonly sent: string[];
  /** Jushuitan windows this invocation asked for (path, modified_begin): it leaves no run record of them. */
  readonly reads: Array<{ path: string; begin: string }>;
  dead: boolean;
  /** Resolves when the doom strikes. */
  readonly died: Promise<void>;
  kill(): void;
}

const MARKER = ".chaos.invalid";

/** Sees every answered request (a copy of the answer); the verdict uses it to learn which write got which answer. */
export type ResponseTap = (request: { url: string; body: unknown }, response: Response) => void;
const taps = new Set<ResponseTap>();

/** Listens to answers until the returned function is called. */
export function tapResponses(tap: ResponseTap): () => void {
  taps.add(tap);
  return () => taps.delete(tap);
}

function notify(url: string, body: unknown, response: Response) {
  for (const tap of taps) tap({ url, body }, response.clone());
}
const dooms = new Map<string, Doom>();
let hubOrigin = "";
let installed = false;
let nextTag = 1;

const isTargetWrite = (pathname: string) => /\/(create|Create)$/.test(pathname);

/** A request that never answers; it rejects only if its caller aborts it (as a hung socket would). */
function hang(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise<Response>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** The external keys a write body carries (JSON text as the connectors send it). */
export function externalKeys(body: unknown): string[] {
  if (typeof body !== "string") return [];
  return [...body.matchAll(/"(?:ExternalCode|FBillNo)"\s*:\s*"([^"]+)"/g)].map((m) => m[1]!);
}

/** modified_begin of a Jushuitan query (form body with a JSON `biz`). */
function windowBegin(body: unknown): string | undefined {
  if (typeof body !== "string" || !body.includes("biz=")) return undefined;
  try {
    const biz = JSON.parse(new URLSearchParams(body).get("biz") ?? "{}") as Record<string, unknown>;
    return typeof biz.modified_begin === "string" ? biz.modified_begin : undefined;
  } catch {
    return undefined;
  }
}

function hangForever(): Promise<never> {
  return new Promise<never>(() => {});
}

/** Wraps globalThis.fetch once; marker-host requests are routed to `hubUrl`'s origin. */
export function installNetworkSwitch(hubUrl: string): void {
  hubOrigin = new URL(hubUrl).origin;
  if (installed) return;
  installed = true;
  const original = globalThis.fetch.bind(globalThis);
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input));
    const doom = url.hostname.endsWith(MARKER) ? dooms.get(url.hostname.slice(0, -MARKER.length)) : undefined;
    if (!doom) {
      const response = await original(input as RequestInfo, init);
      if (taps.size) notify(url.href, init?.body, response);
      return response;
    }
    const signal = init?.signal ?? request?.signal;
    if (doom.dead) return hang(signal);
    const real = `${hubOrigin}${url.pathname}${url.search}`;
    const forward = () => (request ? original(new Request(real, request), init) : original(real, init));
    const write = isTargetWrite(url.pathname);
    if (write) doom.sent.push(...externalKeys(init?.body));
    const begin = windowBegin(init?.body);
    if (begin) doom.reads.push({ path: url.pathname, begin });
    if (doom.plan.mode === "afterAnswer" && doom.writes >= doom.plan.afterWrites) {
      doom.kill();
      return hang(signal);
    }
    if (doom.plan.mode === "beforeAnswer" && write && doom.writes >= doom.plan.afterWrites) {
      // The write reaches the target (and commits there); its answer is lost with the invocation.
      doom.kill();
      forward().then(
        (response) => notify(real, init?.body, response),
        () => undefined,
      );
      return hang(signal);
    }
    const response = await forward();
    if (taps.size) notify(real, init?.body, response);
    if (doom.dead) return hang(signal);
    if (write && response.ok) doom.writes++;
    return response;
  };
  globalThis.fetch = wrapped as typeof fetch;
}

export function createDoom(plan: DoomPlan): Doom {
  let resolveDied!: () => void;
  const died = new Promise<void>((resolve) => {
    resolveDied = resolve;
  });
  const doom: Doom = {
    tag: `doomed-${nextTag++}`,
    plan,
    writes: 0,
    sent: [],
    reads: [],
    dead: false,
    died,
    kill() {
      if (doom.dead) return;
      doom.dead = true;
      resolveDied();
    },
  };
  dooms.set(doom.tag, doom);
  return doom;
}

/** Forwards method calls until the doom strikes; afterwards every call hangs for good. */
function deadable<T extends object>(target: T, doom: Doom): T {
  return new Proxy(target, {
    get(t, property) {
      const value = Reflect.get(t, property) as unknown;
      if (typeof value !== "function") return value;
      // Reflect.apply: an RPC stub's method would take `.apply` for a remote method name.
      return (...args: unknown[]) => (doom.dead ? hangForever() : Reflect.apply(value as (...a: unknown[]) => unknown, t, args));
    },
  });
}

function deadableNamespace<T extends object>(namespace: T, doom: Doom): T {
  return new Proxy(namespace, {
    get(t, property) {
      const value = Reflect.get(t, property) as unknown;
      if (typeof value !== "function") return value;
      if (property === "get") return (...args: unknown[]) => deadable(Reflect.apply(value as (...a: unknown[]) => object, t, args), doom);
      return (...args: unknown[]) => Reflect.apply(value as (...a: unknown[]) => unknown, t, args);
    },
  });
}

/** The env of a doomed invocation: marker-host emulator URLs, and KV / FlowLock bindings that die with it. */
export function doomedEnv(env: Env, doom: Doom): Env {
  const mark = (url: string | undefined) => {
    if (!url) return url;
    const u = new URL(url);
    return `http://${doom.tag}${MARKER}${u.pathname}${u.search}`.replace(/\/$/, "");
  };
  return {
    ...env,
    STATE: deadable(env.STATE, doom),
    FLOW_LOCK: deadableNamespace(env.FLOW_LOCK, doom),
    JST_BASE_URL: mark(env.JST_BASE_URL),
    TPLUS_BASE_URL: mark(env.TPLUS_BASE_URL),
    KIS_BASE_URL: mark(env.KIS_BASE_URL),
    // The marker host is plain http but not loopback: allowed explicitly, as for local development.
    ALLOW_INSECURE_HTTP: "true",
  };
}
