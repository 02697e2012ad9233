/**
 * Fills a reference table from the target system it mirrors (KIS Material/List or Stock/List, T+
 * inventory/Query or warehouse/Query), so lookups such as the seed's `_mongoQuery … F_103 = sku_id`
 * run against current master data. Uploads (CSV/JSON) go straight to the ReferenceStore instead.
 */
import { KisClient, kisConfigFromEnv, KisOperations } from "../connectors/kis/index.ts";
import { createTplusClient, tplusConfigFromEnv } from "../connectors/tplus/operations.ts";
import { ConfigError } from "../errors.ts";
import type { Reference } from "../flow/schema.ts";
import type { Clock, FetchLike, Logger, ReferenceStore, TokenStore } from "../ports.ts";
import type { EnvVars } from "./runner.ts";

export interface ReferenceRefreshPorts {
  env: EnvVars;
  fetch: FetchLike;
  tokenStore: TokenStore;
  references: ReferenceStore;
  clock: Clock;
  logger: Logger;
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
    const client = new KisClient({ config: kisConfigFromEnv(ports.env), fetch: ports.fetch, tokenStore: ports.tokenStore, clock: ports.clock, logger: ports.logger });
    const ops = new KisOperations(client);
    if (operation === "Material/List") rows.push(...(await ops.materialsWithDetails()));
    else if (operation === "Stock/List") for await (const row of ops.stocks()) rows.push({ ...row });
    else throw unsupported(ref);
  } else {
    const client = createTplusClient(tplusConfigFromEnv(ports.env), { fetch: ports.fetch, tokenStore: ports.tokenStore, clock: ports.clock, logger: ports.logger });
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
