/** `reference upload|refresh|list`: the reference tables lookups read (warehouse mapping, materials …). */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { refreshReferenceTable } from "../../../shared/engine/references.ts";
import { ConfigError } from "../../../shared/errors.ts";
import { seedFlows } from "../../../shared/flows/index.ts";
import { parseCsv } from "../../../shared/util/csv.ts";
import type { CommandContext } from "../context.ts";
import { EXIT } from "../errors.ts";
import { resolveFlow } from "../flows.ts";
import { formatTable } from "../table.ts";

export const REFERENCE_USAGE = `jst-bridge reference upload <table> <file.csv|file.json> [--key <column>]
jst-bridge reference refresh <table> --flow <flow>
jst-bridge reference list

upload   replaces the table with the rows of a CSV (header line = column names) or JSON file (an array of
         objects, or {"rows": […]}); --key checks that every row has that column (default: the keyField of the
         seed flows that use the table)
refresh  fills the table from the target system the flow names for it (KIS Material/List, Stock/List; T+
         inventory/Query, warehouse/Query)
list     the tables in the state, with row counts
Options: --state file|kv, --state-dir <dir>, --json. Exit codes: 0 done · 1 failure.`;

export const REFERENCE_OPTIONS = { flow: { type: "string" }, key: { type: "string" } } as const;

async function readRows(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
      hint: "check the file path",
      details: { file: path },
    });
  }
  if (/\.csv$/i.test(path)) return parseCsv(text);
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`, {
      hint: "give a .csv file, or JSON: an array of row objects",
      details: { file: path },
    });
  }
  const rows = Array.isArray(json) ? json : json && typeof json === "object" ? (json as { rows?: unknown }).rows : undefined;
  if (!Array.isArray(rows) || rows.some((r) => !r || typeof r !== "object" || Array.isArray(r))) {
    throw new ConfigError(`${path} holds no rows`, { hint: 'write an array of objects ([{"wms_co_id": 1, …}, …]) or {"rows": […]}', details: { file: path } });
  }
  return rows as Record<string, unknown>[];
}

export async function referenceCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const [action, table, file] = positionals;
  const state = ctx.state();
  const host = ctx.host(state);
  const references = host.referenceStore();
  if (action === "list") {
    const names = await references.list();
    const tables = await Promise.all(names.map((n) => references.get(n)));
    const rows = tables
      .filter((t) => t !== null)
      .map((t) => ({ name: t!.name, rows: t!.rows.length, updatedAt: new Date(t!.updatedAt).toISOString(), source: t!.source ?? "" }));
    if (ctx.json) ctx.out(JSON.stringify({ command: "reference list", state: state.description, tables: rows }, null, 2));
    else
      ctx.out(
        rows.length
          ? formatTable(
              ["table", "rows", "updated", "source"],
              rows.map((r) => [r.name, String(r.rows), r.updatedAt, r.source]),
            )
          : `no reference tables in ${state.description}`,
      );
    return EXIT.ok;
  }
  if (!table || (action !== "upload" && action !== "refresh")) {
    throw new ConfigError(`reference ${action ?? ""}: expected upload <table> <file>, refresh <table> --flow <flow>, or list`.replace("  ", " "), {
      hint: "run `jst-bridge reference --help`",
    });
  }
  if (action === "upload") {
    if (!file) throw new ConfigError(`reference upload ${table}: which file?`, { hint: `jst-bridge reference upload ${table} ${table}.csv` });
    const path = resolve(ctx.io.cwd, file);
    const rows = await readRows(path);
    if (rows.length === 0)
      throw new ConfigError(`${path} has no rows`, { hint: "an empty table would make every lookup fail; add rows", details: { file: path } });
    const keyField =
      ctx.string("key") ??
      seedFlows()
        .flatMap((f) => f.references)
        .find((r) => r.name === table)?.keyField;
    if (keyField) {
      const without = rows.findIndex((r) => r[keyField] === undefined || r[keyField] === "");
      if (without >= 0) {
        throw new ConfigError(`row ${without + 1} of ${path} has no "${keyField}"`, {
          hint: `every row of "${table}" needs its key column ${keyField} (or name another with --key)`,
          details: { file: path, table },
        });
      }
    }
    await references.put({ name: table, rows, updatedAt: ctx.io.clock.now(), source: `upload ${file}` });
    if (ctx.json) ctx.out(JSON.stringify({ command: "reference upload", table, rows: rows.length, state: state.description }, null, 2));
    else ctx.out(`reference table ${table}: ${rows.length} rows uploaded to ${state.description}`);
    return EXIT.ok;
  }
  const flowRef = ctx.string("flow");
  if (!flowRef)
    throw new ConfigError(`reference refresh ${table} needs --flow <flow>`, { hint: "the flow says where the table comes from (references[].source)" });
  const { flow } = await resolveFlow(flowRef, ctx.io.cwd);
  const ref = flow.references.find((r) => r.name === table);
  if (!ref) {
    throw new ConfigError(`flow ${flow.id} has no reference table "${table}"`, {
      hint: `its tables: ${flow.references.map((r) => r.name).join(", ") || "none"}`,
      details: { table },
    });
  }
  const result = await refreshReferenceTable(ref, {
    env: ctx.env,
    fetch: ctx.fetch,
    tokenStore: host.tokenStore(),
    references,
    clock: ctx.io.clock,
    logger: ctx.logger,
  });
  if (ctx.json) ctx.out(JSON.stringify({ command: "reference refresh", ...result, state: state.description }, null, 2));
  else ctx.out(`reference table ${result.table}: ${result.rows} rows refreshed from ${ref.source!.type} ${ref.source!.operation} into ${state.description}`);
  return EXIT.ok;
}
