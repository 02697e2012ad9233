/**
 * One HTTP exchange with the koas gateway: KIS-* headers, timeout, and turning whatever comes back
 * (envelope, HTML page, 5xx, throttling, dropped connection) into data or a typed error.
 * Used by the business client and by the auth routes alike.
 */
import { BridgeError } from "../../errors.ts";
import type { Clock, FetchLike } from "../../ports.ts";
import { businessError, KisAuthError, KisBadResponseError, KisThrottledError, KisTransportError, type KisAuthErrorMatcher } from "./errors.ts";
import type { TextRedactor } from "./errors.ts";

export interface KoasPolicy {
  redact: TextRedactor;
  authErrorMatcher: KisAuthErrorMatcher;
  duplicatePatterns: readonly RegExp[];
  /** HTTP statuses meaning "slow down" (UNCERTAIN: KIS documents no limit; 429 and 503 by default). */
  throttleStatuses: readonly number[];
}

export interface KoasRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Path for error messages (never the URL: its query holds the access token). */
  label: string;
}

/** The common KIS-* headers. KIS-State is random per call (S6 does the same; S5 sends a machine id). */
export function kisHeaders(clock: Clock): Record<string, string> {
  const state = new Uint8Array(8);
  crypto.getRandomValues(state);
  return {
    "KIS-Timestamp": String(Math.floor(clock.now() / 1000)),
    "KIS-State": [...state].map((b) => b.toString(16).padStart(2, "0")).join(""),
    "KIS-TraceID": crypto.randomUUID(),
    "KIS-Ver": "1.0",
  };
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Converts an `*_expire_in` value to epoch ms. The doc calls them unix seconds; one sample reads like a duration
 * (10800 = 3 h). UNCERTAIN, so: ≥ 1e12 → epoch ms, ≥ 1e9 → epoch seconds, smaller positive → seconds from now.
 */
export function expiryToEpochMs(value: unknown, nowMs: number): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  if (n >= 1e12) return Math.round(n);
  if (n >= 1e9) return Math.round(n * 1000);
  return nowMs + Math.round(n * 1000);
}

function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function looksLikeHtml(text: string): boolean {
  return /^\s*(<!doctype|<html|<head|<body|<\?xml|<)/i.test(text);
}

/** What came back from one POST, before anything is made of it. */
interface KoasAnswer {
  status: number;
  text: string;
  contentType: string | null;
  retryAfter: string | null;
}

/** One POST under the request's timeout and the caller's signal; a timeout or dropped connection is a typed transport error. */
async function exchange(fetch: FetchLike, req: KoasRequest, policy: KoasPolicy): Promise<KoasAnswer> {
  const controller = new AbortController();
  let timedOut = false;
  // A real timer, not the injected clock: a virtual clock in tests must not make requests time out.
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("timeout"));
  }, req.timeoutMs);
  const onCallerAbort = () => controller.abort(req.signal?.reason);
  if (req.signal?.aborted) onCallerAbort();
  else req.signal?.addEventListener("abort", onCallerAbort, { once: true });

  try {
    const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body, signal: controller.signal });
    const answer = { status: res.status, contentType: res.headers.get("content-type"), retryAfter: res.headers.get("retry-after"), text: await res.text() };
    // A fetch port that ignores the abort signal (an in-process emulator) may still deliver a late answer:
    // the caller has already been told "timeout", so the answer is dropped and the outcome stays unknown.
    if (timedOut) throw new Error("timeout");
    return answer;
  } catch (error) {
    if (error instanceof BridgeError) throw error; // BudgetExhaustedError and friends pass untouched
    if (req.signal?.aborted && !timedOut) throw req.signal.reason ?? error;
    if (timedOut) {
      throw new KisTransportError("timeout", `KIS did not answer ${req.label} within ${req.timeoutMs} ms`);
    }
    const why = error instanceof Error ? policy.redact(error.message) : "network error";
    throw new KisTransportError("network", `KIS request ${req.label} failed: ${why}`);
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onCallerAbort);
  }
}

/** The answer's JSON object envelope; throttling, a 5xx, an HTML page or a body that is not a JSON object throw. */
function envelopeOf(answer: KoasAnswer, clock: Clock, req: KoasRequest, policy: KoasPolicy): Record<string, unknown> {
  const { status, text, contentType } = answer;
  if (policy.throttleStatuses.includes(status)) throw new KisThrottledError(status, retryAfterMs(answer.retryAfter, clock.now()));
  if (status >= 500) {
    throw new KisTransportError("http_5xx", `KIS answered ${req.label} with HTTP ${status}`, status);
  }

  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = undefined;
  }
  if (!envelope || typeof envelope !== "object" || Array.isArray(envelope)) {
    if (status === 401) throw new KisAuthError("unknown", `KIS refused ${req.label} with HTTP 401`, { httpStatus: status });
    const html = looksLikeHtml(text);
    // Redact, then cut: cutting first can keep the prefix of a token that crosses the cut (security review #6).
    const snippet = cutRedacted(policy.redact, text.replace(/\s+/g, " "), 160);
    // A 2xx/5xx HTML page is a gateway hiccup (retry); a 4xx page means a wrong URL or path (do not).
    const retryable = status < 400 || status >= 500;
    throw new KisBadResponseError(status, `KIS answered ${req.label} with ${html ? "an HTML page" : "a body that is not JSON"} (HTTP ${status})`, {
      retryable,
      snippet,
      contentType,
    });
  }
  return envelope as Record<string, unknown>;
}

/** Posts and returns the envelope's `data` on errcode 0; throws a typed error otherwise. */
export async function postKoas(fetch: FetchLike, clock: Clock, req: KoasRequest, policy: KoasPolicy): Promise<unknown> {
  const answer = await exchange(fetch, req, policy);
  const { status, text, contentType } = answer;
  const env = envelopeOf(answer, clock, req, policy);
  // errcode as a number or a numeric string (UNCERTAIN: every source shows a number).
  const errcode = typeof env.errcode === "number" ? env.errcode : typeof env.errcode === "string" && /^-?\d+$/.test(env.errcode) ? Number(env.errcode) : NaN;
  const description = typeof env.description === "string" ? env.description : typeof env.errmsg === "string" ? env.errmsg : "";
  if (Number.isNaN(errcode)) {
    if (status === 401) throw new KisAuthError("unknown", `KIS refused ${req.label} with HTTP 401`, { httpStatus: status });
    throw new KisBadResponseError(status, `KIS answered ${req.label} without an errcode (HTTP ${status})`, {
      retryable: false,
      snippet: cutRedacted(policy.redact, text, 160),
      contentType,
    });
  }
  if (errcode === 0 && status < 400) return env.data;

  const ctx = { httpStatus: status, errcode, description };
  const credential = policy.authErrorMatcher(ctx);
  if (credential) {
    throw new KisAuthError(credential, `KIS rejected the credentials for ${req.label} (errcode ${errcode}): ${cutRedacted(policy.redact, description, 200)}`, {
      errcode,
      httpStatus: status,
    });
  }
  throw businessError(ctx, policy.duplicatePatterns, policy.redact);
}

/** Redact, then cut: through the redactor's own cut when it has one (a cut never keeps a secret's start). */
function cutRedacted(redact: TextRedactor, text: string, max: number): string {
  if (redact.cut) return redact.cut(text, max);
  const out = redact(text);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
