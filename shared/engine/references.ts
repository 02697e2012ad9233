/**
 * Fills a reference table from the target system it mirrors (KIS Material/List or Stock/List, T+
 * inventory/Query or warehouse/Query), so lookups such as the seed's `_mongoQuery … F_103 = sku_id`
 * run against current master data. Uploads (CSV/JSON) go straight to the ReferenceStore instead.
 */
import { kisOperations, tplusClient } from "../compose/connectors.ts";
import { BridgeError, BudgetExhaustedError, ConfigError } from "../errors.ts";
import type { Flow, Reference } from "../flow/schema.ts";
import type { Clock, FetchLike, KeyValueStore, Logger, ReferenceStore, TokenStore } from "../ports.ts";
import { newMaterialRefreshProgress } from "../connectors/kis/operations.ts";
import { dropRefreshProgress, loadRefreshProgress, saveRefreshProgress } from "./reference-progress.ts";
import { type EnvVars, numberFromEnv } from "../compose/env.ts";

export interface ReferenceRefreshPorts {
  env: EnvVars;
  fetch: FetchLike;
  tokenStore: TokenStore;
  references: ReferenceStore;
  clock: Clock;
  logger: Logger;
  /** Where a refresh cut off by the subrequest budget keeps its position (resumed next run). Optional. */
  kv?: KeyValueStore;
}

/** The clients' share of the ports (the composition root builds them: shared/compose/connectors.ts). */
function clientDeps(ports: ReferenceRefreshPorts) {
  return { fetch: ports.fetch, tokenStore: ports.tokenStore, clock: ports.clock, logger: ports.logger };
}

export const REFRESHABLE_OPERATIONS = {
  kis: ["Material/List", "Stock/List"],
  tplus: ["inventory/Query", "warehouse/Query"],
} as const;

export async function refreshReferenceTable(ref: Reference, ports: ReferenceRefreshPorts): Promise<{ table: string; rows: number }> {
  if (!ref.source) {
    throw new ConfigError(`reference table "${ref.name}" has no source to refresh from`, {
      hint: `upload its rows instead (POST /reference/${ref.name} with CSV or JSON)`,
    });
  }
  const rows: Record<string, unknown>[] = [];
  const { type, operation } = ref.source;
  if (type === "kis") {
    const ops = kisOperations(ports.env, clientDeps(ports));
    if (operation === "Material/List") {
      // The catalogue may need more calls than one invocation has (one per material when only GetDetail
      // exists): keep the position when the budget runs out and continue from it next run.
      const source = `${type} ${operation}`;
      const now = ports.clock.now();
      const saved = await loadRefreshProgress(ports.kv, ref.name, source, now, referenceTtlMs(ports.env));
      const progress = saved?.progress ?? newMaterialRefreshProgress();
      if (saved) ports.logger.info("reference refresh resumed", { table: ref.name, listed: progress.listed.length, detailed: progress.detailed.length });
      try {
        rows.push(...(await ops.materialsWithDetailsFrom(progress)));
      } catch (error) {
        if (error instanceof BudgetExhaustedError) {
          await saveRefreshProgress(ports.kv, ref.name, source, saved?.startedAt ?? now, ports.clock.now(), progress);
          ports.logger.warn("reference refresh ran out of subrequests; the next run continues it", {
            table: ref.name,
            listed: progress.listed.length,
            detailed: progress.detailed.length,
          });
        } else await dropRefreshProgress(ports.kv, ref.name);
        throw error;
      }
      await dropRefreshProgress(ports.kv, ref.name);
    } else if (operation === "Stock/List") for await (const row of ops.stocks()) rows.push({ ...row });
    else throw unsupported(ref);
  } else {
    const client = tplusClient(ports.env, clientDeps(ports));
    if (operation === "inventory/Query") rows.push(...(await client.queryAllInventory()));
    else if (operation === "warehouse/Query") rows.push(...(await client.queryAllArchive("warehouse/Query")));
    else throw unsupported(ref);
  }
  // A table whose rows lack the key the flow looks up by would make every lookup fail later, one line at a time.
  if (ref.keyField && rows.length > 0 && !rows.some((r) => r[ref.keyField!] !== undefined && r[ref.keyField!] !== null && r[ref.keyField!] !== "")) {
    throw new ConfigError(`reference table "${ref.name}": ${type} ${operation} returned ${rows.length} rows, none with the key field "${ref.keyField}"`, {
      hint:
        type === "kis"
          ? `Neither Material/List nor Material/GetListDetails/GetDetail carries "${ref.keyField}" on this KIS account: check the custom field name in KIS (自定义字段), or upload the table (jst-bridge reference upload ${ref.name} file.csv).`
          : `Check the key field name, or upload the table instead (jst-bridge reference upload ${ref.name} file.csv).`,
      details: { table: ref.name, keyField: ref.keyField, rows: rows.length },
    });
  }
  await ports.references.put({ name: ref.name, rows, updatedAt: ports.clock.now(), source: `${type} ${operation}` });
  ports.logger.info("reference table refreshed", { table: ref.name, rows: rows.length });
  return { table: ref.name, rows: rows.length };
}

function unsupported(ref: Reference) {
  const type = ref.source!.type;
  return new ConfigError(`reference table "${ref.name}": ${type} operation "${ref.source!.operation}" cannot fill a table`, {
    hint: `use one of ${REFRESHABLE_OPERATIONS[type].join(", ")}`,
  });
}

/** How long a table filled from its source stays good before a run refreshes it (REFERENCE_TTL_HOURS, default 24). */
export const DEFAULT_REFERENCE_TTL_MS = 24 * 3_600_000;

export function referenceTtlMs(env: EnvVars): number {
  const hours = numberFromEnv(env, "REFERENCE_TTL_HOURS", {
    min: 0,
    max: 24 * 365,
    must: "a number of hours between 0 and 8760",
    hint: "0 refreshes before every run; unset it for the default of 24 hours",
  });
  return hours === undefined ? DEFAULT_REFERENCE_TTL_MS : hours * 3_600_000;
}

/**
 * The reference tables a flow declares, ready for lookups. A table with a `source` is refreshed first when it is
 * empty or older than the TTL, so a fresh deployment needs no refresh step; when that refresh fails, an older
 * table is still used (with a warning) and a missing one is a configuration error naming the fix. Tables without
 * a source (the warehouse mapping) only a user can fill: their absence names the upload.
 */
export async function ensureReferenceTables(flow: Flow, ports: ReferenceRefreshPorts): Promise<Record<string, ReadonlyArray<Record<string, unknown>>>> {
  const tables: Record<string, ReadonlyArray<Record<string, unknown>>> = {};
  const ttl = referenceTtlMs(ports.env);
  for (const ref of flow.references) {
    let table = await ports.references.get(ref.name);
    const empty = !table || table.rows.length === 0;
    if (ref.source && (empty || ports.clock.now() - table!.updatedAt >= ttl)) {
      try {
        await refreshReferenceTable(ref, ports);
        table = await ports.references.get(ref.name);
      } catch (error) {
        if (error instanceof BudgetExhaustedError) {
          // Out of subrequests mid-refresh: keep the older rows and postpone the next attempt by a TTL, so the
          // following invocations run instead of restarting the same refresh forever (Workers Free, big catalogs).
          if (!empty) await ports.references.put({ ...table!, updatedAt: ports.clock.now() });
          throw error;
        }
        if (empty) {
          throw new ConfigError(
            `flow ${flow.id} needs reference table "${ref.name}", which is empty, and filling it from ${ref.source.type} ${ref.source.operation} failed`,
            {
              hint: `${error instanceof BridgeError && error.hint ? `${error.hint} ` : ""}Or upload it with POST /reference/${ref.name} or \`jst-bridge reference upload ${ref.name} file.csv\`.`,
              details: { table: ref.name, cause: error instanceof BridgeError ? error.code : "unknown" },
              cause: error,
            },
          );
        }
        // Back off for a TTL: without this every run after the TTL pays the same doomed refresh (e.g. an uploaded
        // kis_materials on an account whose materials lack the key field). updatedAt doubles as "last attempt";
        // the source says the rows are the older ones.
        const code = error instanceof BridgeError ? error.code : "unknown";
        const source =
          `${(table!.source ?? "").replace(/ \(refresh from .* failed at .*\)$/, "")} (refresh from ${ref.source.type} ${ref.source.operation} failed at ${new Date(ports.clock.now()).toISOString()}: ${code})`.trim();
        await ports.references.put({ ...table!, updatedAt: ports.clock.now(), source });
        ports.logger.warn("reference table refresh failed; using the older table and retrying after the TTL", { table: ref.name, code });
      }
    }
    if (!table || table.rows.length === 0) {
      throw new ConfigError(`flow ${flow.id} needs reference table "${ref.name}", which is empty`, {
        hint: `upload it (CSV or JSON rows with a "${ref.keyField}" column) with POST /reference/${ref.name} or \`jst-bridge reference upload ${ref.name} file.csv\``,
        details: { table: ref.name },
      });
    }
    tables[ref.name] = table.rows;
  }
  return tables;
}
