/**
 * What the two T+ transports have in common: the call contract the operations use, base-URL handling,
 * and one HTTP exchange with a timeout that does not rely on the fetch honouring its abort signal.
 */
import { BridgeError } from "../../errors.ts";
import type { FetchLike } from "../../ports.ts";
import { TPLUS_ERROR, TplusError } from "./errors.ts";

export type TplusMode = "cloud" | "onprem";

export interface TplusCallOptions {
  signal?: AbortSignal;
}

/** A T+ API caller: `path` is "<resource>/<Method>", `body` the JSON the API takes; returns the parsed success body. */
export interface TplusTransport {
  readonly mode: TplusMode;
  call(path: string, body: unknown, options?: TplusCallOptions): Promise<unknown>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Accepts "https://host", "https://host/" and a pasted "https://host/tplus/api/v2/"; returns "https://host". */
export function normalizeBaseUrl(raw: string): string {
  let base = raw.trim().replace(/\/+$/, "");
  base = base.replace(/\/tplus\/api\/v2$/i, "");
  return base;
}

export function apiUrl(base: string, path: string): string {
  return `${base}/tplus/api/v2/${path.replace(/^\/+/, "")}`;
}

export interface RawResponse {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * One request with a deadline. The timer races the fetch and the body read, so a server that never answers
 * cannot hang the run even if the host's fetch ignores the abort. Errors raised by the injected fetch that
 * are already BridgeErrors (the budget refusing a call) pass through untouched.
 */
export async function exchange(
  fetch: FetchLike,
  url: string,
  init: RequestInit,
  options: { timeoutMs: number; signal?: AbortSignal; label: string },
): Promise<RawResponse> {
  const controller = new AbortController();
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener("abort", onOuterAbort, { once: true });

  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
      reject(new Error("timeout"));
    }, options.timeoutMs);
  });
  // The losing promise must not surface as an unhandled rejection.
  deadline.catch(() => {});

  try {
    const work = (async () => {
      const res = await fetch(url, { ...init, signal: controller.signal });
      const text = await res.text();
      return { status: res.status, text, headers: res.headers };
    })();
    work.catch(() => {});
    return await Promise.race([work, deadline]);
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    if (timedOut) {
      throw new TplusError(TPLUS_ERROR.timeout, `T+ ${options.label}: no answer within ${options.timeoutMs} ms`, {
        retryable: true,
        outcome: "unknown",
        details: { path: options.label },
      });
    }
    if (outer?.aborted) throw error;
    throw new TplusError(TPLUS_ERROR.network, `T+ ${options.label}: network error (${errorName(error)})`, {
      retryable: true,
      // The request may have reached the server before the connection broke.
      outcome: "unknown",
      details: { path: options.label },
      hint: "Check that TPLUS_BASE_URL is reachable from where the bridge runs.",
    });
  } finally {
    if (timer !== null) clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

function errorName(error: unknown): string {
  if (error instanceof Error) return error.name === "Error" ? "fetch failed" : error.name;
  return "fetch failed";
}

/** Base64 of UTF-8 text (btoa alone only takes Latin-1). */
export function base64Utf8(text: string): string {
  return base64Bytes(new TextEncoder().encode(text));
}

export function base64Bytes(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function base64ToBytes(b64: string): Uint8Array {
  const binary = atob(b64.replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, ""));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
