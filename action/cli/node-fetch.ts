/**
 * The CLI's and the Action's fetch port: node:http(s) with keep-alive, answering with a web Response built
 * from the whole body. Why not the global fetch: with undici's fetch ~30 % of what a backfill allocates
 * survived young-generation collections (12 % with this port, measured with --trace-gc-nvp), so it was
 * promoted and only freed by full collections: a 10,000-document backfill peaked at ~350 MB RSS with it and
 * ~255 MB with this port (before heap tuning, see heap.ts; bench/backfill.ts).
 * It covers what the connectors send (string bodies, header records, an AbortSignal); anything else
 * (a Request object, a stream body) goes to the global fetch.
 */
import http from "node:http";
import https from "node:https";
import type { FetchLike } from "../../shared/ports.ts";

const AGENTS = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 16 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

type SimpleBody = string | Uint8Array | URLSearchParams | ArrayBuffer | null | undefined;

function simpleBody(body: unknown): body is SimpleBody {
  return (
    body === undefined ||
    body === null ||
    typeof body === "string" ||
    body instanceof Uint8Array ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer
  );
}

function bodyBytes(body: SimpleBody): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof URLSearchParams) return Buffer.from(body.toString(), "utf8");
  return Buffer.from(body instanceof ArrayBuffer ? new Uint8Array(body) : body);
}

export function createNodeFetch(fallback: FetchLike = (input, init) => globalThis.fetch(input, init)): FetchLike {
  return (input, init = {}) => {
    if (input instanceof Request || !simpleBody(init.body)) return fallback(input, init);
    const url = new URL(input instanceof URL ? input.href : input);
    if (url.protocol !== "http:" && url.protocol !== "https:") return fallback(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    if (init.body instanceof URLSearchParams && !headers["content-type"]) headers["content-type"] = "application/x-www-form-urlencoded;charset=UTF-8";
    const payload = bodyBytes(init.body);
    if (payload) headers["content-length"] = String(payload.length);
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = mod.request(url, { method: init.method ?? "GET", headers, agent: AGENTS[url.protocol as "http:" | "https:"] }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", fail);
        res.on("end", () => {
          signal?.removeEventListener("abort", onAbort);
          const status = res.statusCode ?? 0;
          const out = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) out.append(key, v);
          }
          const noBody = status === 204 || status === 304 || (init.method ?? "GET").toUpperCase() === "HEAD";
          resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? "", headers: out }));
        });
      });
      function fail(error: unknown) {
        signal?.removeEventListener("abort", onAbort);
        // Same shape as fetch's network failure: TypeError with the cause.
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: error }));
      }
      function onAbort() {
        req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", fail);
      if (payload) req.end(payload);
      else req.end();
    });
  };
}
