/**
 * A hostile or careless upstream for the canary tests: in front of the real emulators, answers matching
 * requests with an error that echoes every credential the request carried (every header value except the
 * plain ones, the query, the form body), in the vendor's error shape. It records what it echoed, so a test
 * can look for exactly those values in every output.
 */
import type { FetchLike } from "../../shared/ports.ts";
import { echoForms } from "./secret-forms.ts";

export type EchoShape = "jst" | "jst-html" | "tplus" | "kis" | "kis-html";

export interface EchoRule {
  /** Substring of the URL path the rule answers. */
  path: string;
  shape: EchoShape;
  /** Matching requests to let through first (e.g. the token refresh). */
  skip?: number;
  /** How many matching requests it answers (default: all). */
  times?: number;
}

const PLAIN_HEADERS = new Set(["content-type", "accept", "content-length", "user-agent"]);

/** Every credential-like value the request carried, as strings (the echo's content). */
export function requestValues(url: string, headers: Headers, body: unknown): string[] {
  const out: string[] = [];
  headers.forEach((v, k) => {
    if (PLAIN_HEADERS.has(k.toLowerCase()) || (k.toLowerCase().startsWith("kis-") && k.toLowerCase() !== "kis-authdata")) return;
    out.push(`${k}: ${v}`);
  });
  for (const [k, v] of new URL(url).searchParams) out.push(`${k}=${v}`);
  if (typeof body === "string") {
    if (body.trimStart().startsWith("{")) out.push(body);
    else for (const [k, v] of new URLSearchParams(body)) if (k !== "biz" && k !== "_args") out.push(`${k}=${v}`);
  }
  return out;
}

export function echoingFetch(inner: FetchLike, rules: EchoRule[], extraEcho: () => string[] = () => []) {
  const state = rules.map((r) => ({ ...r, skip: r.skip ?? 0, times: r.times ?? Infinity }));
  const echoed: string[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname;
    const rule = state.find((r) => path.includes(r.path) && r.times > 0);
    if (!rule) return inner(input, init);
    if (rule.skip > 0) {
      rule.skip--;
      return inner(input, init);
    }
    rule.times--;
    const values = [...requestValues(url, new Headers(init?.headers), init?.body), ...extraEcho()];
    echoed.push(...values);
    // Each credential in every encoded form upstreams produce (JSON \uXXXX / \/, %xx either case, HTML, base64).
    const encoded = echoedSecrets(values).flatMap((v) => echoForms(v).slice(1));
    const text = `request was: ${values.join(" ; ")} ; encoded: ${encoded.join(" ")}`;
    const pad = "x".repeat(150);
    switch (rule.shape) {
      case "jst":
        return Response.json({ code: 100, msg: `非法请求 ${text}`, data: null });
      case "jst-html":
        return new Response(`<html><body>${pad}${values.map((v) => v.replace(/^[^=:]*[=:]\s*/, "")).join(" ")} ${encoded.join(" ")}</body></html>`, {
          status: 502,
          headers: { "Content-Type": "text/html" },
        });
      case "tplus":
        return Response.json({ code: "EXBZ0001", message: `业务处理失败 ${text}` }, { status: 400 });
      case "kis":
        return Response.json({ errcode: 500010, description: `单据保存失败 ${text}` });
      case "kis-html":
        return new Response(`${pad}${values.map((v) => v.replace(/^[^=:]*[=:]\s*/, "")).join(" ")} ${encoded.join(" ")}`, {
          status: 400,
          headers: { "Content-Type": "text/plain" },
        });
    }
  };
  return { fetch, echoed };
}

/** Names whose values are credentials in the three vendors' protocols (kept apart from the product's own list). */
const CREDENTIAL_NAMES = new Set([
  "access_token",
  "refresh_token",
  "app_secret",
  "appsecret",
  "opentoken",
  "authorization",
  "cookie",
  "kis-authdata",
  "sid",
  "client_secret",
]);

/** The credential values among the echoed `name: value` / `name=value` lines. */
export function echoedSecrets(echoed: string[]): string[] {
  const out = new Set<string>();
  for (const line of echoed) {
    const m = /^([^=:]*)[=:]\s*([\s\S]*)$/.exec(line);
    if (!m || !CREDENTIAL_NAMES.has(m[1]!.trim().toLowerCase())) continue;
    const value = m[2]!;
    if (value.length >= 8) out.add(value);
    const cookie = /sid=([^;]+)/.exec(value);
    if (cookie && cookie[1]!.length >= 8) out.add(cookie[1]!);
  }
  return [...out];
}
