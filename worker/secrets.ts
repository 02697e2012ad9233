/**
 * The Worker's one redactor per env object (per isolate): seeded from every secret-named variable,
 * taught every token the runs load, store or send (shared/security/secret-ports.ts). API and dashboard
 * responses, Worker logs, run records, dead letters and alerts all go through it.
 */
import { Redactor } from "../shared/security/redact.ts";
import { envVars } from "./config.ts";
import type { Env } from "./env.ts";

const redactors = new WeakMap<object, { redactor: Redactor; tokensReadAt: number }>();
/** How often an isolate re-reads the stored tokens for response redaction (a rotation elsewhere). */
const TOKEN_REREAD_MS = 5 * 60_000;

export function redactorFor(env: Env): Redactor {
  let entry = redactors.get(env);
  if (!entry) {
    entry = { redactor: Redactor.fromEnv(envVars(env)), tokensReadAt: 0 };
    redactors.set(env, entry);
  }
  return entry.redactor;
}

/** The redactor with the stored tokens (`tok:*`) loaded too: a fresh isolate has not seen them in a run yet. */
export async function redactorWithTokens(env: Env): Promise<Redactor> {
  const redactor = redactorFor(env);
  const entry = redactors.get(env)!;
  if (Date.now() - entry.tokensReadAt < TOKEN_REREAD_MS || !env.STATE) return redactor;
  entry.tokensReadAt = Date.now();
  try {
    const listed = await env.STATE.list({ prefix: "tok:" });
    const values = await Promise.all(listed.keys.map((k) => env.STATE.get(k.name)));
    for (const v of values) {
      if (!v) continue;
      try {
        redactor.addAll(JSON.parse(v));
      } catch {
        redactor.add(v);
      }
    }
  } catch {
    entry.tokensReadAt = 0; // try again next time; the env secrets still apply
  }
  return redactor;
}
