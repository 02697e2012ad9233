/** A flow opened for writing: its reference tables (filled from their source when stale), the compiled builder and the target client. */
import { chooseKisPrecheck } from "../doctor/findings.ts";
import { ensureReferenceTables } from "../engine/references.ts";
import { createDocumentBuilder } from "../flow/builder.ts";
import { lookupTables } from "../flow/preview.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger, TokenStore } from "../ports.ts";
import { KvReferenceStore } from "../state/reference-store.ts";
import { targetClient } from "./connectors.ts";
import { type EnvVars, kisPrecheckFromEnv } from "./env.ts";

export interface OpenFlowDeps {
  fetch: FetchLike;
  tokenStore: TokenStore;
  clock: Clock;
  logger: Logger;
  kv: KeyValueStore;
}

/** The compiled flow (with its reference tables loaded) and its target client. */
export async function openFlow(flow: Flow, env: EnvVars, deps: OpenFlowDeps) {
  // Tables with a source fill themselves when empty or stale (references.ts); uploads stay for the rest.
  const references = new KvReferenceStore(deps.kv, { clock: deps.clock, logger: deps.logger });
  const tables = await ensureReferenceTables(flow, { env, ...deps, references });
  const builder = createDocumentBuilder(flow, { lookups: lookupTables(tables) });
  // KIS: KIS_PRECHECK, else what doctor --write-probe learned about duplicate bill numbers, else "always".
  const precheck = flow.target.type === "kis" ? (await chooseKisPrecheck(kisPrecheckFromEnv(env), deps.kv)).mode : undefined;
  const target = targetClient(flow, env, deps, precheck ? { kisPrecheck: precheck } : {});
  return { builder, target, tables };
}
