/**
 * https only (security review #12): credentials and alert bodies never go out in clear text through a typo
 * in a base URL. Plain http is allowed for loopback hosts (the emulators, a local proxy) and, when
 * ALLOW_INSECURE_HTTP=true, for any host (an on-prem T+ on the LAN, local development); nothing else.
 */
import { ConfigError } from "../errors.ts";

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || /^127(?:\.\d{1,3}){3}$/.test(h) || h === "::1";
}

export function insecureHttpAllowed(env: Record<string, string | undefined>): boolean {
  return env.ALLOW_INSECURE_HTTP?.trim().toLowerCase() === "true";
}

/** Why this URL may not carry credentials, or null. `what` names the setting (e.g. ALERT_WEBHOOK_URL). */
export function insecureUrlProblem(url: URL, allowInsecure: boolean): string | null {
  if (url.protocol === "https:") return null;
  if (url.protocol !== "http:") return `scheme "${url.protocol}" is not https`;
  if (allowInsecure || isLoopbackHost(url.hostname)) return null;
  return `plain http to ${url.host} would send credentials in clear text`;
}

export function requireSecureUrl(url: URL, what: string, env: Record<string, string | undefined>): void {
  const problem = insecureUrlProblem(url, insecureHttpAllowed(env));
  if (problem) {
    throw new ConfigError(`${what}: ${problem}`, {
      hint: `use an https:// address; only for local development or an on-premises server on your own network set ALLOW_INSECURE_HTTP=true`,
      details: { setting: what, host: url.host },
    });
  }
}
