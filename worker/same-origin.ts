/**
 * The one rule for requests a browser could be made to send on a user's behalf (API writes authenticated by the
 * session cookie, sign-in, sign-out): an Origin header must be this Worker's origin. Without a usable Origin —
 * missing, or `null` (sent by a sandboxed frame or a data: page, and also by a form on our own no-referrer pages) —
 * the request passes only when the browser's Fetch Metadata (Sec-Fetch-Site, which no page can set) says
 * same-origin; a bare `Origin: null` is refused like another site. Callers without a browser use the bearer token.
 *
 * hono/csrf is not used: it checks only form-like content types, so a JSON write with a session cookie and no Origin
 * would pass, where this rule refuses it (docs/performance.md).
 */
export function sameOriginRequest(req: { header(name: string): string | undefined; url: string }): boolean {
  const origin = req.header("Origin");
  if (origin !== undefined && origin !== "null") return origin === new URL(req.url).origin;
  return req.header("Sec-Fetch-Site") === "same-origin";
}
