/**
 * The redactor at the ports: a host wraps its KV store, fetch and logger once, and every path the engine,
 * the alerts and the replay take is covered without each connector scrubbing on its own.
 * - KV: token records (`tok:*`) teach the redactor the stored and rotated tokens and are stored as they
 *   are; every other value (run records, dead letters, checkpoints, alert state) is redacted before it is written.
 * - fetch: learns the credentials each request carries (headers, cookie, query, form body), so derived
 *   values (the T+ on-prem Authorization blob, the sid cookie) are secrets too; never follows a redirect
 *   with them (redirect: "manual", and a 3xx answer is a clear, non-retryable error).
 * - logger: message and fields are redacted.
 */
import { type FlowIndexPort, isFlowIndex } from "../state/flow-index.ts";
import { BridgeError } from "../errors.ts";
import type { FetchLike, KeyValueStore, Logger } from "../ports.ts";
import { supportsBulkRead } from "../state/kv-helpers.ts";
import type { Redactor } from "./redact.ts";
import { insecureHttpAllowed, insecureUrlProblem } from "./transport.ts";

const TOKEN_PREFIX = "tok:";
/** Reference tables are uploaded or filled from master data, never from error paths; large, so not scanned. */
const UNSCANNED_PREFIXES = ["ref:"];

function learnTokens(redactor: Redactor, raw: string | null): void {
  if (!raw) return;
  try {
    redactor.addAll(JSON.parse(raw));
  } catch {
    redactor.add(raw);
  }
}

export function redactingKv(inner: KeyValueStore, redactor: Redactor): KeyValueStore {
  const store: KeyValueStore & { getMany?: (keys: string[]) => Promise<Map<string, string | null>> } = {
    async get(key) {
      const value = await inner.get(key);
      if (key.startsWith(TOKEN_PREFIX)) learnTokens(redactor, value);
      return value;
    },
    async put(key, value, options) {
      if (key.startsWith(TOKEN_PREFIX)) {
        learnTokens(redactor, value);
        return inner.put(key, value, options);
      }
      if (UNSCANNED_PREFIXES.some((p) => key.startsWith(p))) return inner.put(key, value, options);
      return inner.put(key, redactor.redact(value), options);
    },
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
  };
  if (supportsBulkRead(inner)) {
    store.getMany = async (keys) => {
      const values = await inner.getMany(keys);
      for (const [k, v] of values) if (k.startsWith(TOKEN_PREFIX)) learnTokens(redactor, v);
      return values;
    };
  }
  return store;
}

/** A 3xx from an upstream: its Location is not followed, since the request carried credentials. */
export class UpstreamRedirectError extends BridgeError {
  constructor(from: string, status: number, location: string | null) {
    let to = "another address";
    try {
      if (location) to = new URL(location, from).host;
    } catch {
      // unparsable Location: name no host
    }
    super("upstream_redirect", `${new URL(from).host} answered HTTP ${status} redirecting to ${to}; not followed, because the request carries credentials`, {
      hint: "set the base URL (JST_BASE_URL / TPLUS_BASE_URL / KIS_BASE_URL / ALERT_WEBHOOK_URL) to the final https address",
      retryable: false,
      details: { httpStatus: status, redirectHost: to },
    });
  }
}

export interface FetchGuardOptions {
  /** ALLOW_INSECURE_HTTP=true: plain http to any host (default: loopback hosts only). */
  allowInsecureHttp?: boolean;
}

export function redactingFetch(inner: FetchLike, redactor: Redactor, options: FetchGuardOptions = {}): FetchLike {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const problem = insecureUrlProblem(new URL(url), options.allowInsecureHttp === true);
    if (problem) {
      // Before the request: nothing is sent in clear text. A configuration error: retrying cannot help.
      throw new BridgeError("config_invalid", `refused to call ${new URL(url).host}: ${problem}`, {
        hint: "use https:// in the base URL (JST_BASE_URL / TPLUS_BASE_URL / KIS_BASE_URL / ALERT_WEBHOOK_URL); only for local development or an on-premises server on your own network set ALLOW_INSECURE_HTTP=true",
        retryable: false,
      });
    }
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    redactor.addRequest(url, headers, init?.body);
    const res = await inner(input, { ...init, redirect: "manual" });
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      await res.body?.cancel().catch(() => undefined);
      throw new UpstreamRedirectError(url, res.status, res.headers.get("Location"));
    }
    return res;
  };
}

export function redactingLogger(inner: Logger, redactor: Redactor): Logger {
  const wrap = (write: Logger["info"]) => (message: string, fields?: Record<string, unknown>) =>
    write(redactor.redact(message), fields ? redactor.deep(fields) : fields);
  return { debug: wrap(inner.debug.bind(inner)), info: wrap(inner.info.bind(inner)), warn: wrap(inner.warn.bind(inner)), error: wrap(inner.error.bind(inner)) };
}

/** Wraps a host's ports (any object with env/kv/fetch/logger) with the redactor; other fields pass through. */
export function securePorts<P extends { env: Record<string, string | undefined>; kv: KeyValueStore; fetch: FetchLike; logger: Logger }>(
  ports: P,
  redactor: Redactor,
): P {
  redactor.addEnv(ports.env);
  const fetch = redactingFetch(ports.fetch, redactor, { allowInsecureHttp: insecureHttpAllowed(ports.env) });
  const lock = (ports as { lock?: unknown }).lock;
  const index = isFlowIndex(lock) ? { lock: redactingIndex(lock, redactor) } : {};
  return { ...ports, kv: redactingKv(ports.kv, redactor), fetch, logger: redactingLogger(ports.logger, redactor), ...index };
}

/** The flow index (state/flow-index.ts) stores plans and cursors as KV did: redacted the same way. */
function redactingIndex<L extends FlowIndexPort>(lock: L, redactor: Redactor): L {
  const wrapped = Object.create(lock) as L;
  wrapped.commitIndex = (flowId, runId, epoch, commit) => lock.commitIndex(flowId, runId, epoch, JSON.parse(redactor.redact(JSON.stringify(commit))));
  return wrapped;
}
