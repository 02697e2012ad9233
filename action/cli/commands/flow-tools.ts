/** `preview`, `validate` and `import-qeasy`: working on flow documents without touching any system. */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type BridgeError, ConfigError } from "../../../shared/errors.ts";
import { sourceDocuments } from "../../../shared/flow/source-documents.ts";
import { preview } from "../../../shared/flow/preview.ts";
import { importQeasyDetailed, QeasyImportError } from "../../../shared/flow/qeasy-import.ts";
import { checkFlow } from "../../../shared/flow/schema.ts";
import { KvReferenceStore } from "../../../shared/state/reference-store.ts";
import type { CommandContext } from "../context.ts";
import { EXIT, toBridge } from "../errors.ts";
import { isQeasyScheme, readJsonFile, resolveFlow } from "../flows.ts";

export const PREVIEW_USAGE = `jst-bridge preview <flow> --input docs.json [--tables tables.json] [--json]

Maps source documents through a flow and prints the target payloads, without calling any system.
  --input <file>     Jushuitan documents: a JSON array, a response envelope {code, data:{…}} or an array of them
  --tables <file>    reference tables as {"<table>": [rows…]}; tables not given are read from the state when it has them
  --state, --state-dir  as for sync (only read, for reference tables)
Exit codes: 0 every document mapped · 2 some documents failed to map · 1 bad input.`;
export const PREVIEW_OPTIONS = { input: { type: "string" }, tables: { type: "string" } } as const;

export const VALIDATE_USAGE = `jst-bridge validate <flow.json|qeasy.json> [--json]

Checks a flow document (every problem with its JSON path and a hint). QEasy scheme metadata is recognised and
checked by converting it. Exit codes: 0 valid · 1 invalid.`;

export const IMPORT_USAGE = `jst-bridge import-qeasy <qeasy.json> [--out flow.json] [--id <flow-id>] [--target tplus|kis] [--lookup-table <name>]

Converts QEasy (轻易云) scheme metadata into a native flow document (stdout, or --out). Notes on the choices the
importer made go to stderr. Exit codes: 0 converted · 1 unsupported constructs (each listed with its path).`;
export const IMPORT_OPTIONS = { out: { type: "string" }, id: { type: "string" }, target: { type: "string" }, "lookup-table": { type: "string" } } as const;

function documentsOf(json: unknown, file: string): Record<string, unknown>[] {
  let docs: Record<string, unknown>[];
  try {
    docs = sourceDocuments(json);
  } catch (error) {
    throw new ConfigError(`${file} holds no source documents: ${(error as Error).message}`, { hint: (error as BridgeError).hint ?? "give a JSON array of documents", details: { file } });
  }
  if (docs.some((d) => !d || typeof d !== "object" || Array.isArray(d))) {
    throw new ConfigError(`${file}: every source document must be a JSON object`, { hint: "give an array of documents (objects) or a Jushuitan response", details: { file } });
  }
  return docs;
}

export async function previewCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const { flow } = await resolveFlow(positionals[0], ctx.io.cwd);
  const input = ctx.string("input");
  if (!input) throw new ConfigError("preview needs --input <docs.json>", { hint: "save a page of Jushuitan documents as JSON and pass its path" });
  const inputPath = resolve(ctx.io.cwd, input);
  const docs = documentsOf(await readJsonFile(inputPath, "input"), inputPath);
  const tables: Record<string, ReadonlyArray<Record<string, unknown>>> = {};
  const tablesFile = ctx.string("tables");
  if (tablesFile) {
    const path = resolve(ctx.io.cwd, tablesFile);
    const json = await readJsonFile(path, "tables file");
    if (!json || typeof json !== "object" || Array.isArray(json) || Object.values(json).some((v) => !Array.isArray(v))) {
      throw new ConfigError(`${path} is not a map of tables`, { hint: 'write {"warehouses": [{…}, …], "kis_materials": [ … ]}', details: { file: path } });
    }
    Object.assign(tables, json);
  }
  const fromState = flow.references.filter((r) => !(r.name in tables));
  if (fromState.length) {
    const store = new KvReferenceStore(ctx.state().kv);
    for (const ref of fromState) {
      const table = await store.get(ref.name).catch(() => null);
      if (table) tables[ref.name] = table.rows;
      else ctx.err(`warning: reference table "${ref.name}" is not given (--tables) and not in the state: lookups into it fail`);
    }
  }
  const result = preview(flow, docs, { tables, trace: false, vars: { currentTime: ctx.io.clock.now() } });
  const errors = result.errors.map((e) => ({ id: e.id, ...(e.members ? { members: e.members } : {}), code: e.error.code, message: e.error.message, ...(e.error.hint ? { hint: e.error.hint } : {}) }));
  if (ctx.json) {
    ctx.out(JSON.stringify({ command: "preview", flowId: flow.id, documents: result.documents, errors, dropped: result.dropped, held: result.held, skipped: result.skipped }, null, 2));
  } else {
    for (const d of result.documents) ctx.out(`# ${d.externalKey} (${d.members.length} source document${d.members.length === 1 ? "" : "s"})\n${JSON.stringify(d.payload, null, 2)}`);
    for (const e of errors) ctx.out(`! ${e.id}: ${e.message}${e.hint ? ` — ${e.hint}` : ""}`);
    ctx.out(`${docs.length} source documents → ${result.documents.length} target documents, ${errors.length} failed, ${result.dropped.length} dropped by conditions${result.held.length ? `, ${result.held.length} merge groups held (period open)` : ""}`);
  }
  return errors.length > 0 ? EXIT.partial : EXIT.ok;
}

export async function validateCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) throw new ConfigError("validate needs a file", { hint: "jst-bridge validate my-flow.json" });
  const path = resolve(ctx.io.cwd, file);
  const json = await readJsonFile(path, "flow file");
  if (isQeasyScheme(json)) {
    try {
      const { flow, notes } = importQeasyDetailed(json);
      if (ctx.json) ctx.out(JSON.stringify({ command: "validate", file: path, kind: "qeasy", valid: true, flowId: flow.id, notes }, null, 2));
      else {
        ctx.out(`${file}: valid QEasy scheme → flow ${flow.id} (${flow.source.endpoint} → ${flow.target.type} ${flow.target.operation})`);
        for (const n of notes) ctx.out(`  note: ${n}`);
        ctx.out(`  convert it with: jst-bridge import-qeasy ${file} --out ${flow.id}.json`);
      }
      return EXIT.ok;
    } catch (error) {
      const e = toBridge(error);
      const problems =
        error instanceof QeasyImportError
          ? error.unsupported.map((u) => ({ path: u.path, problem: u.construct, hint: u.hint }))
          : ((e.details?.problems as Array<{ path: string; problem: string; hint?: string }> | undefined) ?? [{ path: "", problem: e.message, hint: e.hint }]);
      report(ctx, path, file, "qeasy", problems);
      return EXIT.failure;
    }
  }
  const { flow, problems } = checkFlow(json);
  if (flow) {
    if (ctx.json) ctx.out(JSON.stringify({ command: "validate", file: path, kind: "flow", valid: true, flowId: flow.id }, null, 2));
    else ctx.out(`${file}: valid flow ${flow.id} (${flow.source.endpoint} → ${flow.target.type} ${flow.target.operation}${flow.operation ? ", merged" : ""})`);
    return EXIT.ok;
  }
  report(ctx, path, file, "flow", problems);
  return EXIT.failure;
}

function report(ctx: CommandContext, path: string, file: string, kind: string, problems: Array<{ path: string; problem: string; hint?: string }>) {
  if (ctx.json) {
    ctx.out(JSON.stringify({ command: "validate", file: path, kind, valid: false, problems }, null, 2));
    return;
  }
  ctx.out(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
  for (const p of problems) ctx.out(`  at ${p.path || "(document)"}: ${p.problem}${p.hint ? `\n      fix: ${p.hint}` : ""}`);
}

export async function importQeasyCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) throw new ConfigError("import-qeasy needs the QEasy scheme file", { hint: "jst-bridge import-qeasy scheme.json --out my-flow.json" });
  const path = resolve(ctx.io.cwd, file);
  const json = await readJsonFile(path, "QEasy scheme");
  const target = ctx.string("target");
  if (target !== undefined && target !== "tplus" && target !== "kis") throw new ConfigError(`--target "${target}" is not a target`, { hint: "use --target tplus or --target kis", details: { option: "target" } });
  const id = ctx.string("id");
  const table = ctx.string("lookup-table");
  const { flow, notes } = importQeasyDetailed(json, { ...(id ? { id } : {}), ...(target ? { targetType: target } : {}), ...(table ? { mongoQueryTable: table } : {}) });
  const text = `${JSON.stringify(flow, null, 2)}\n`;
  const out = ctx.string("out");
  if (out) {
    await writeFile(resolve(ctx.io.cwd, out), text, "utf8");
    if (!ctx.json) ctx.err(`wrote flow ${flow.id} to ${out}`);
  }
  for (const n of notes) ctx.err(`note: ${n}`);
  if (ctx.json) ctx.out(JSON.stringify({ command: "import-qeasy", flowId: flow.id, out: out ?? null, notes, ...(out ? {} : { flow }) }, null, 2));
  else if (!out) ctx.out(text);
  return EXIT.ok;
}
