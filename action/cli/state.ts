/**
 * Where the CLI and the Action keep state: a directory (`--state file`, default `.jst-bridge`) or the
 * Worker's KV namespace through the Cloudflare REST API (`--state kv`), so a backfill and the Worker's
 * cron share watermarks, the ledger, tokens and reference tables.
 */
import { resolve } from "node:path";
import { ConfigError } from "../../shared/errors.ts";
import type { Clock, FetchLike, KeyValueStore, Logger } from "../../shared/ports.ts";
import { Redactor } from "../../shared/security/redact.ts";
import { redactingFetch } from "../../shared/security/secret-ports.ts";
import { insecureHttpAllowed } from "../../shared/security/transport.ts";
import { FileKeyValueStore } from "../state/file-kv.ts";
import { KvRestStore } from "../state/kv-rest.ts";

export type StateKind = "file" | "kv";

export interface StateOptions {
  kind: StateKind;
  /** Directory of the file state (relative to cwd). */
  dir: string;
  cwd: string;
  env: Record<string, string | undefined>;
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
}

export interface OpenedState {
  kv: KeyValueStore;
  /** For messages: the directory, or the KV namespace id (never the token). */
  description: string;
}

/** CF_* names first, the CLOUDFLARE_* names wrangler uses as fallbacks. */
export function kvSettings(env: Record<string, string | undefined>) {
  const pick = (...names: string[]) => names.map((n) => env[n]?.trim()).find((v) => v) ?? undefined;
  return {
    accountId: pick("CF_ACCOUNT_ID", "CLOUDFLARE_ACCOUNT_ID"),
    apiToken: pick("CF_API_TOKEN", "CLOUDFLARE_API_TOKEN"),
    namespaceId: pick("CF_KV_NAMESPACE_ID"),
    baseUrl: pick("CF_API_BASE_URL"),
  };
}

export function parseStateKind(value: string | undefined): StateKind {
  const v = (value ?? "file").trim().toLowerCase();
  if (v === "file" || v === "kv") return v;
  throw new ConfigError(`--state "${value}" is not a state backend`, {
    hint: "use --state file (a local directory, default) or --state kv (the Worker's KV namespace)",
    details: { option: "state" },
  });
}

export function openState(options: StateOptions): OpenedState {
  if (options.kind === "file") {
    const dir = resolve(options.cwd, options.dir);
    return { kv: new FileKeyValueStore({ dir, now: () => options.clock.now(), warn: (m) => options.logger.warn(m) }), description: `directory ${dir}` };
  }
  const s = kvSettings(options.env);
  const missing = [
    ...(s.accountId ? [] : ["CF_ACCOUNT_ID (or CLOUDFLARE_ACCOUNT_ID)"]),
    ...(s.apiToken ? [] : ["CF_API_TOKEN (or CLOUDFLARE_API_TOKEN)"]),
    ...(s.namespaceId ? [] : ["CF_KV_NAMESPACE_ID"]),
  ];
  if (missing.length) {
    throw new ConfigError(`--state kv needs ${missing.join(", ")}`, {
      hint: "set them in the environment or .env: the account id, an API token with Workers KV Storage: Edit, and the id of the Worker's STATE namespace (`npx wrangler kv namespace list`)",
      details: { missing },
    });
  }
  const kv = new KvRestStore({
    accountId: s.accountId!,
    apiToken: s.apiToken!,
    namespaceId: s.namespaceId!,
    // The Cloudflare token is account-wide: https only (loopback or ALLOW_INSECURE_HTTP aside), no redirects,
    // and the token is learned by a redactor like every other credential.
    fetch: redactingFetch(options.fetch, Redactor.fromEnv(options.env, [s.apiToken]), { allowInsecureHttp: insecureHttpAllowed(options.env) }),
    clock: options.clock,
    logger: options.logger,
    ...(s.baseUrl ? { baseUrl: s.baseUrl } : {}),
  });
  return { kv, description: `KV namespace ${s.namespaceId}` };
}
