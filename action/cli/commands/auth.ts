/**
 * `auth jst|tplus|kis`: walks a user through getting the credentials a flow needs, stores the resulting
 * tokens in the state (so the CLI and Action use them at once), and prints the `wrangler secret put` lines
 * for the Worker. Secret values appear in exactly one place: that final block on stdout, which the user
 * asked for (`--hide-values` leaves them out). Logs and errors go through the redactor, which learns every
 * new token before anything is logged.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { signParams } from "../../../shared/connectors/jushuitan/sign.ts";
import { KIS_TOKEN_KEY, type KisAccount, type KisAccountApp } from "../../../shared/connectors/kis/index.ts";
import { kisBootstrap, tplusCloudAuth } from "../../../shared/compose/auth.ts";
import type { ClientDeps } from "../../../shared/compose/connectors.ts";
import type { Clients } from "../../../shared/compose/index.ts";
import { BridgeError, ConfigError } from "../../../shared/errors.ts";
import type { TokenSet, TokenStore } from "../../../shared/ports.ts";
import type { CommandContext } from "../context.ts";
import type { OpenedState } from "../state.ts";
import { EXIT } from "../errors.ts";

export const AUTH_USAGE = `jst-bridge auth jst [--code <code>] [--isv]
jst-bridge auth tplus [--code <code> --redirect-uri <uri>]      (TPLUS_MODE=cloud; onprem: a login check)
jst-bridge auth kis [--code <code>] [--account <acctnumber>] [--app <icrmid>]

Gets tokens for one system, stores them in the state (--state file|kv, --state-dir) so the CLI and the Action
use them at once, merges the Worker's secrets into .jst-bridge/secrets.json (--secrets-file <path>; mode 600,
with a generated SYNC_API_TOKEN) for \`npx wrangler secret bulk\`, and prints the \`wrangler secret put\` lines. Needs the app credentials in the
environment or .env: JST_APP_KEY/JST_APP_SECRET, TPLUS_APP_KEY/TPLUS_APP_SECRET, KIS_CLIENT_ID/KIS_CLIENT_SECRET.

  jst     self-developed app: getInitToken with a code you choose (default random); --isv: the authorization
          page's code (the command prints the page's URL)
  tplus   cloud: the one-time code your redirect URI received when the T+ admin authorized the app (10 minutes)
  kis     the code from authorizing the app in KIS; then the 账套 (--account) and app (--app) to use

The final block CONTAINS SECRET VALUES (only there; never in logs). --hide-values prints the commands without them.
Exit codes: 0 done · 1 failure.`;

export const AUTH_OPTIONS = {
  code: { type: "string" },
  isv: { type: "boolean" },
  "redirect-uri": { type: "string" },
  account: { type: "string" },
  app: { type: "string" },
  "hide-values": { type: "boolean" },
  "secrets-file": { type: "string" },
} as const;

/** Where `auth` merges the Worker's secrets for `npx wrangler secret bulk` (gitignored with the file state). */
export const DEFAULT_SECRETS_FILE = ".jst-bridge/secrets.json";
const SYSTEM_PREFIX: Record<string, string> = { jst: "JST_", tplus: "TPLUS_", kis: "KIS_" };

/**
 * Merges this system's variables (app credentials from the environment, the new tokens) into the secrets file,
 * creating it with mode 0600 and a random SYNC_API_TOKEN when it has none. Values never go to stdout from here.
 */
async function writeSecretsFile(ctx: CommandContext, system: string, values: Record<string, string>): Promise<string> {
  const relative = ctx.string("secrets-file") ?? DEFAULT_SECRETS_FILE;
  const path = resolve(ctx.io.cwd, relative);
  let current: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) current = parsed as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`${relative} exists but is not a JSON object of secrets`, {
        hint: "move it away, or name another file with --secrets-file",
        details: { file: relative },
      });
    }
  }
  const prefix = SYSTEM_PREFIX[system]!;
  const fromEnv = Object.fromEntries(
    Object.entries(ctx.env).filter((e): e is [string, string] => e[0].startsWith(prefix) && typeof e[1] === "string" && e[1].trim() !== ""),
  );
  const next: Record<string, string> = { ...current, ...fromEnv, ...values };
  if (!next.SYNC_API_TOKEN)
    next.SYNC_API_TOKEN =
      ctx.env.SYNC_API_TOKEN?.trim() || [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
  for (const v of Object.values(next)) ctx.redactor.add(v);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return relative;
}

/** A single-quoted shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

async function ask(ctx: CommandContext, question: string, flag: string): Promise<string> {
  if (!ctx.io.prompt) {
    throw new ConfigError(`${question.replace(/:\s*$/, "")} is needed and stdin is not a terminal`, {
      hint: `pass it with --${flag}`,
      details: { option: flag },
    });
  }
  const answer = (await ctx.io.prompt(question)).trim();
  if (!answer) throw new ConfigError("no answer given", { hint: `run again and answer, or pass --${flag}`, details: { option: flag } });
  return answer;
}

function need(ctx: CommandContext, names: string[]): void {
  const missing = names.filter((n) => !ctx.env[n]?.trim());
  if (missing.length) {
    throw new ConfigError(`auth needs ${missing.join(", ")}`, {
      hint: "set the app credentials of your open-platform app in the environment or .env first",
      details: { missing },
    });
  }
}

/** Values keyed by variable name; secrets among them are added to the redactor before anything else happens. */
async function printSecrets(ctx: CommandContext, system: string, values: Record<string, string>, notes: string[], stored: string) {
  for (const [name, value] of Object.entries(values)) if (name !== "TPLUS_ORG_ID") ctx.redactor.add(value);
  const names = Object.keys(values);
  const secretsFile = await writeSecretsFile(ctx, system, values);
  if (ctx.json) {
    // Machine output never carries the values: they are in the state and the secrets file already.
    ctx.out(JSON.stringify({ command: "auth", system, variables: names, stored, secretsFile }, null, 2));
    return;
  }
  for (const n of notes) ctx.out(n);
  ctx.out(`tokens stored in ${stored}; the CLI and the Action (same state) use them now.`);
  const hide = ctx.flag("hide-values");
  const lines = [
    "",
    hide
      ? "Set them as Worker secrets (wrangler asks for each value):"
      : "=== SECRET VALUES BELOW — printed only because you ran `jst-bridge auth`; nothing else ever prints them. ===\n" +
        "=== Run these in a private terminal; do not paste them into chats, tickets or CI logs.                  ===",
    ...names.map((name) => (hide ? `npx wrangler secret put ${name}` : `printf '%s' ${shellQuote(values[name]!)} | npx wrangler secret put ${name}`)),
    hide ? "" : "=== END OF SECRET VALUES ===",
    `For GitHub Actions, store the same names as repository secrets (gh secret set NAME) and pass them to the action.`,
  ];
  ctx.outSecrets(lines.join("\n"));
  ctx.out(
    `Worker secrets (this system's app credentials and tokens, and SYNC_API_TOKEN) merged into ${secretsFile} (mode 600): npx wrangler secret bulk ${secretsFile}`,
  );
}

/** What each system's walk-through works with: the state, a token store that teaches the redactor, and the clients over it. */
interface AuthSession {
  state: OpenedState;
  store: TokenStore;
  clients: Clients;
  /** What the bootstraps need besides the environment: the redacting fetch, the learning token store, clock, logger. */
  deps: ClientDeps;
}

export async function authCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const system = positionals[0];
  const state = ctx.state();
  const host = ctx.host(state);
  const tokenStore = host.tokenStore();
  // Anything a token store receives is a secret: teach the redactor before any log line can carry it.
  const store: TokenStore = {
    get: (s) => tokenStore.get(s),
    put: async (s, t) => {
      learn(ctx, t);
      await tokenStore.put(s, t);
    },
  };
  const deps: ClientDeps = { fetch: ctx.fetch, tokenStore: store, clock: ctx.io.clock, logger: ctx.logger };
  const session: AuthSession = { state, store, clients: host.clients(ctx.fetch, store), deps };
  if (system === "jst") return authJst(ctx, session);
  if (system === "tplus")
    return (ctx.env.TPLUS_MODE ?? "cloud").trim().toLowerCase() === "onprem" ? checkTplusOnprem(ctx, session) : authTplusCloud(ctx, session);
  if (system === "kis") return authKis(ctx, session);
  throw new ConfigError(`auth: unknown system "${system ?? ""}"`, { hint: "use jst, tplus or kis" });
}

/** Jushuitan: getInitToken with a chosen code (self-developed app), or the authorization page's code (--isv). */
async function authJst(ctx: CommandContext, session: AuthSession): Promise<number> {
  need(ctx, ["JST_APP_KEY", "JST_APP_SECRET"]);
  // New tokens are what this command is for: the env's JST_ACCESS_TOKEN does not seed the store here.
  const client = session.clients.jushuitan({ envTokens: false });
  let tokens: TokenSet;
  if (ctx.flag("isv")) {
    const timestamp = String(Math.floor(ctx.io.clock.now() / 1000));
    const sign = signParams(ctx.env.JST_APP_SECRET!, { app_key: ctx.env.JST_APP_KEY!, timestamp, charset: "utf-8" });
    const url = `https://openweb.jushuitan.com/auth?${new URLSearchParams({ app_key: ctx.env.JST_APP_KEY!, timestamp, charset: "utf-8", sign })}`;
    if (!ctx.string("code")) ctx.err(`Open this page as the merchant, authorize the app, and copy the code from the redirect:\n  ${url}`);
    const code = ctx.string("code") ?? (await ask(ctx, "authorization code: ", "code"));
    ctx.redactor.add(code);
    tokens = await client
      .accessToken(code)
      .catch(codeRefused("the authorization code is single-use and expires quickly: open the page again and use the new code"));
  } else {
    const code = ctx.string("code");
    tokens = code ? await client.getInitToken(code) : await client.getInitToken();
  }
  const values: Record<string, string> = { JST_ACCESS_TOKEN: tokens.accessToken };
  if (tokens.refreshToken) values.JST_REFRESH_TOKEN = tokens.refreshToken;
  await printSecrets(
    ctx,
    "jst",
    values,
    [`Jushuitan: token obtained${tokens.expiresAt ? `, valid until ${new Date(tokens.expiresAt).toISOString()}` : ""}.`],
    session.state.description,
  );
  return EXIT.ok;
}

/** T+ on-prem has no token to hand out: check that the configured login works and list what to set. */
async function checkTplusOnprem(ctx: CommandContext, session: AuthSession): Promise<number> {
  const warehouses = await session.clients.tplus().queryWarehouse();
  // TPLUS_ORG_ID only when set: user/password login sends an empty orgId (docs/targets-tplus.md).
  const names = ["TPLUS_APP_KEY", "TPLUS_APP_SECRET", "TPLUS_ORG_ID", "TPLUS_PRIVATE_KEY", "TPLUS_USER", "TPLUS_PASSWORD", "TPLUS_ACCOUNT"].filter(
    (n) => n !== "TPLUS_ORG_ID" || ctx.env.TPLUS_ORG_ID?.trim(),
  );
  const secretsFile = await writeSecretsFile(ctx, "tplus", {});
  if (ctx.json)
    ctx.out(
      JSON.stringify(
        { command: "auth", system: "tplus", mode: "onprem", loginOk: true, warehouses: warehouses.length, variables: names, secretsFile },
        null,
        2,
      ),
    );
  else
    ctx.out(
      [
        `T+ on-prem: login as ${ctx.env.TPLUS_USER} on 账套 ${ctx.env.TPLUS_ACCOUNT} works (${warehouses.length} warehouses visible).`,
        `The TPLUS_* values are merged into ${secretsFile} (mode 600): npx wrangler secret bulk ${secretsFile}`,
        "Or set them one by one (wrangler asks for each):",
        ...names.map((n) => `npx wrangler secret put ${n}`),
      ].join("\n"),
    );
  return EXIT.ok;
}

/** T+ cloud: exchange the one-time code the app's redirect URI received for the organisation's tokens. */
async function authTplusCloud(ctx: CommandContext, session: AuthSession): Promise<number> {
  need(ctx, ["TPLUS_APP_KEY", "TPLUS_APP_SECRET"]);
  if (!ctx.string("code"))
    ctx.err(
      "Have the T+ organisation's administrator authorize your app in the Chanjet open platform; your redirect URI then receives ?code=… (valid 10 minutes).",
    );
  const code = ctx.string("code") ?? (await ask(ctx, "authorization code: ", "code"));
  ctx.redactor.add(code);
  const redirectUri = ctx.string("redirect-uri") ?? (await ask(ctx, "redirect URI registered for the app: ", "redirect-uri"));
  const transport = tplusCloudAuth(ctx.env, session.deps);
  const info = await transport
    .exchangeAuthorizationCode(code, redirectUri)
    .catch(codeRefused("the code is single-use and valid 10 minutes, and the redirect URI must be exactly the one registered for the app: authorize again"));
  const tokens = await session.store.get("tplus-cloud");
  if (!tokens) throw new ConfigError("T+ answered the code exchange but no token was stored", { hint: "run the command again with a fresh code" });
  const values: Record<string, string> = { TPLUS_OPEN_TOKEN: tokens.accessToken };
  if (tokens.refreshToken) values.TPLUS_REFRESH_TOKEN = tokens.refreshToken;
  if (info.orgId) values.TPLUS_ORG_ID = info.orgId;
  const until = `${info.expiresAt ? `, access token valid until ${new Date(info.expiresAt).toISOString()}` : ""}${info.refreshExpiresAt ? `, refresh token until ${new Date(info.refreshExpiresAt).toISOString()}` : ""}`;
  await printSecrets(ctx, "tplus", values, [`T+ cloud: tokens obtained${until}.`], session.state.description);
  return EXIT.ok;
}

/** KIS: exchange the authorization code, then choose the 账套 (--account) and the app (--app). */
async function authKis(ctx: CommandContext, session: AuthSession): Promise<number> {
  need(ctx, ["KIS_CLIENT_ID", "KIS_CLIENT_SECRET"]);
  if (!ctx.string("code")) ctx.err("Authorize the app for your KIS user in the Kingdee open platform; the redirect carries a one-time code.");
  const code = ctx.string("code") ?? (await ask(ctx, "authorization code: ", "code"));
  ctx.redactor.add(code);
  const result = await kisBootstrap(ctx.env, session.deps, {
    code,
    chooseAccount: (accounts: KisAccount[]) =>
      pick(
        ctx,
        accounts,
        ctx.string("account"),
        (a) => a.acctnumber,
        (a) => `${a.acctnumber}${a.name ? ` ${a.name}` : ""}`,
        "账套 (account)",
        "account",
      ),
    chooseApp: (apps: KisAccountApp[]) =>
      pick(
        ctx,
        apps,
        ctx.string("app"),
        (a) => a.icrmid,
        (a) => `${a.icrmid}${a.name ? ` ${a.name}` : ""}`,
        "app",
        "app",
      ),
  }).catch(codeRefused("KIS codes are single-use: authorize the app again and use the new code (check KIS_CLIENT_ID/KIS_CLIENT_SECRET too)"));
  await session.store.put(KIS_TOKEN_KEY, result.tokens);
  await printSecrets(
    ctx,
    "kis",
    result.env,
    [`KIS: 账套 ${result.account.acctnumber}${result.account.name ? ` (${result.account.name})` : ""}, app ${result.app.icrmid}.`],
    session.state.description,
  );
  return EXIT.ok;
}

/** One of `items`: the one named by the flag, the only one, or the one the user picks from a numbered list. */
async function pick<T>(
  ctx: CommandContext,
  items: T[],
  wanted: string | undefined,
  id: (x: T) => string,
  describe: (x: T) => string,
  what: string,
  flag: string,
): Promise<T> {
  if (wanted !== undefined) {
    const hit = items.find((x) => id(x) === wanted);
    if (!hit) throw new ConfigError(`no ${what} "${wanted}"`, { hint: `choose one of: ${items.map(id).join(", ")}`, details: { option: flag } });
    return hit;
  }
  if (items.length === 1) return items[0]!;
  ctx.err(`${what}s:\n${items.map((x, i) => `  ${i + 1}. ${describe(x)}`).join("\n")}`);
  const answer = await ask(ctx, `${what} (1-${items.length}): `, flag);
  const chosen = items[Number(answer) - 1] ?? items.find((x) => id(x) === answer);
  if (!chosen)
    throw new ConfigError(`"${answer}" is not one of the listed ${what}s`, {
      hint: `answer with a number from 1 to ${items.length}, or pass --${flag}`,
      details: { option: flag },
    });
  return chosen;
}

/** Keeps the connector's error (code, message, where) but says what to do about a refused bootstrap. */
function codeRefused(hint: string) {
  return (error: unknown): never => {
    if (error instanceof BridgeError && !error.retryable)
      throw new BridgeError(error.code, error.message, { hint, cause: error, ...(error.details ? { details: error.details } : {}) });
    throw error;
  };
}

function learn(ctx: CommandContext, tokens: TokenSet) {
  ctx.redactor.add(tokens.accessToken);
  ctx.redactor.add(tokens.refreshToken);
  for (const [k, v] of Object.entries(tokens.extra ?? {})) if (!/expires|orgId|gwRouterAddr/i.test(k)) ctx.redactor.add(v);
}
