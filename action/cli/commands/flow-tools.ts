/** `preview`, `validate` and `import-qeasy`: working on flow documents without touching any system. */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type BridgeError, ConfigError } from "../../../shared/errors.ts";
import { sourceDocuments } from "../../../shared/flow/source-documents.ts";
import { preview } from "../../../shared/flow/preview.ts";
import { QeasyImportError } from "../../../shared/flow/qeasy-import.ts";
import { checkFlowPaths, detectPart, importQeasyPart, QEASY_PARTS, type QeasyPart, type QeasyPartOptions } from "../../../shared/flow/qeasy-parts.ts";
import type { UnresolvedPath } from "../../../shared/flow/unresolved.ts";
import { checkFlow } from "../../../shared/flow/schema.ts";
import type { CommandContext } from "../context.ts";
import { EXIT, toBridge } from "../errors.ts";
import { isQeasyScheme, readJsonFile, resolveFlow } from "../flows.ts";

/** Under --strict, template paths the source documents do not have are problems: one line each, with the nearest names. */
function unresolvedProblems(unresolved: readonly UnresolvedPath[]) {
  return unresolved.map((u) => ({
    path: u.flowPath,
    problem: u.message,
    hint: u.suggestions.length ? `did you mean ${u.suggestions.join(", ")}?` : "check the field name against the source documents",
  }));
}
export const PREVIEW_USAGE = `jst-bridge preview <flow> --input docs.json [--tables tables.json] [--json]

Maps source documents through a flow and prints the target payloads, without calling any system.
  --input <file>     Jushuitan documents: a JSON array, a response envelope {code, data:{…}} or an array of them
  --tables <file>    reference tables as {"<table>": [rows…]}; tables not given are read from the state when it has them
  --state, --state-dir  as for sync (only read, for reference tables)
Exit codes: 0 every document mapped · 2 some documents failed to map · 1 bad input.`;
export const PREVIEW_OPTIONS = { input: { type: "string" }, tables: { type: "string" } } as const;

const QEASY_PART_HELP = `  --part <part>      what the QEasy file holds: ${QEASY_PARTS.join("|")} (detected when absent:
                     a scheme has source and target, a source config "type": "QUERY", a target config "type": "EXECUTE")
  --sample <file>    source documents to check every template path on (besides the documented response fields)
  --endpoint <path>  source endpoint for a target config or field list, to check their paths (/open/…/query)`;

export const VALIDATE_USAGE = `jst-bridge validate <flow.json|qeasy.json> [--strict] [--part …] [--sample docs.json] [--json]

Checks a flow document (every problem with its JSON path and a hint). QEasy metadata (a whole scheme or a part of
one) is recognised and checked by converting it; template paths that resolve to nothing are warnings, errors
with --strict.
${QEASY_PART_HELP}
Exit codes: 0 valid · 1 invalid.`;

export const VALIDATE_OPTIONS = { strict: { type: "boolean" }, part: { type: "string" }, sample: { type: "string" }, endpoint: { type: "string" } } as const;

export const IMPORT_USAGE = `jst-bridge import-qeasy <qeasy.json> [--out flow.json] [--id <flow-id>] [--target tplus|kis] [--lookup-table <name>] [--part …] [--sample docs.json]

Converts QEasy (轻易云) metadata into native flow JSON (stdout, or --out): a whole scheme becomes a flow, a part
becomes its native block. Notes on the choices the importer made, and every template path that neither the
documented response fields nor the sample resolve, go to stderr.
${QEASY_PART_HELP}
Exit codes: 0 converted · 1 unsupported constructs (each listed with its path).`;
export const IMPORT_OPTIONS = {
  out: { type: "string" },
  id: { type: "string" },
  target: { type: "string" },
  "lookup-table": { type: "string" },
  part: { type: "string" },
  sample: { type: "string" },
  endpoint: { type: "string" },
} as const;

/** The QEasy options shared by validate and import-qeasy. */
async function qeasyOptions(ctx: CommandContext): Promise<QeasyPartOptions> {
  const options: QeasyPartOptions = {};
  const part = ctx.string("part");
  if (part !== undefined) {
    if (!(QEASY_PARTS as readonly string[]).includes(part))
      throw new ConfigError(`--part "${part}" is not a part of a QEasy scheme`, { hint: `use one of ${QEASY_PARTS.join(", ")}`, details: { option: "part" } });
    options.part = part as QeasyPart;
  }
  const sample = ctx.string("sample");
  if (sample) {
    const path = resolve(ctx.io.cwd, sample);
    options.sample = documentsOf(await readJsonFile(path, "sample"), path);
  }
  const endpoint = ctx.string("endpoint");
  if (endpoint) options.endpoint = endpoint;
  return options;
}

const warningLine = (u: UnresolvedPath) => `warning: ${u.message}`;

function documentsOf(json: unknown, file: string): Record<string, unknown>[] {
  let docs: Record<string, unknown>[];
  try {
    docs = sourceDocuments(json);
  } catch (error) {
    throw new ConfigError(`${file} holds no source documents: ${(error as Error).message}`, {
      hint: (error as BridgeError).hint ?? "give a JSON array of documents",
      details: { file },
    });
  }
  if (docs.some((d) => !d || typeof d !== "object" || Array.isArray(d))) {
    throw new ConfigError(`${file}: every source document must be a JSON object`, {
      hint: "give an array of documents (objects) or a Jushuitan response",
      details: { file },
    });
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
    const store = ctx.host(ctx.state()).referenceStore();
    for (const ref of fromState) {
      const table = await store.get(ref.name).catch(() => null);
      if (table) tables[ref.name] = table.rows;
      else ctx.err(`warning: reference table "${ref.name}" is not given (--tables) and not in the state: lookups into it fail`);
    }
  }
  const result = preview(flow, docs, { tables, trace: false, vars: { currentTime: ctx.io.clock.now() } });
  const errors = result.errors.map((e) => ({
    id: e.id,
    ...(e.members ? { members: e.members } : {}),
    code: e.error.code,
    message: e.error.message,
    ...(e.error.hint ? { hint: e.error.hint } : {}),
  }));
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        {
          command: "preview",
          flowId: flow.id,
          documents: result.documents,
          errors,
          dropped: result.dropped,
          held: result.held,
          skipped: result.skipped,
          warnings: result.warnings,
        },
        null,
        2,
      ),
    );
  } else {
    for (const w of result.warnings) ctx.err(warningLine(w));
    for (const d of result.documents)
      ctx.out(`# ${d.externalKey} (${d.members.length} source document${d.members.length === 1 ? "" : "s"})\n${JSON.stringify(d.payload, null, 2)}`);
    for (const e of errors) ctx.out(`! ${e.id}: ${e.message}${e.hint ? ` — ${e.hint}` : ""}`);
    ctx.out(
      `${docs.length} source documents → ${result.documents.length} target documents, ${errors.length} failed, ${result.dropped.length} dropped by conditions${result.held.length ? `, ${result.held.length} merge groups held (period open)` : ""}`,
    );
  }
  return errors.length > 0 ? EXIT.partial : EXIT.ok;
}

export async function validateCommand(ctx: CommandContext, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) throw new ConfigError("validate needs a file", { hint: "jst-bridge validate my-flow.json" });
  const path = resolve(ctx.io.cwd, file);
  const json = await readJsonFile(path, "flow file");
  const options = await qeasyOptions(ctx);
  const strict = ctx.flag("strict");
  const native = json !== null && typeof json === "object" && !Array.isArray(json) && "source" in json && "target" in json && !isQeasyScheme(json);
  if (options.part || isQeasyScheme(json) || (!native && detectPart(json) !== null)) {
    try {
      const { part, result, notes, unresolved } = importQeasyPart(json, options);
      if (strict && unresolved.length > 0) {
        report(ctx, path, file, "qeasy", unresolvedProblems(unresolved));
        return EXIT.failure;
      }
      const flowId = part === "scheme" ? (result as { id: string }).id : undefined;
      if (ctx.json)
        ctx.out(
          JSON.stringify(
            { command: "validate", file: path, kind: "qeasy", part, valid: true, ...(flowId ? { flowId } : {}), notes, warnings: unresolved },
            null,
            2,
          ),
        );
      else {
        if (part === "scheme") {
          const flow = result as { id: string; source: { endpoint: string }; target: { type: string; operation: string } };
          ctx.out(`${file}: valid QEasy scheme → flow ${flow.id} (${flow.source.endpoint} → ${flow.target.type} ${flow.target.operation})`);
        } else ctx.out(`${file}: valid QEasy ${part} block`);
        for (const n of notes) ctx.out(`  note: ${n}`);
        for (const u of unresolved) ctx.out(`  ${warningLine(u)}`);
        if (part === "scheme") ctx.out(`  convert it with: jst-bridge import-qeasy ${file} --out ${(result as { id: string }).id}.json`);
      }
      return EXIT.ok;
    } catch (error) {
      const e = toBridge(error);
      const problems =
        error instanceof QeasyImportError
          ? error.unsupported.map((u) => ({ path: u.path, problem: u.construct, hint: u.hint }))
          : ((e.details?.problems as Array<{ path: string; problem: string; hint?: string }> | undefined) ?? [
              { path: (e.details?.path as string | undefined) ?? "", problem: e.message, hint: e.hint },
            ]);
      report(ctx, path, file, "qeasy", problems);
      return EXIT.failure;
    }
  }
  const { flow, problems } = checkFlow(json);
  if (flow) {
    const notes: string[] = [];
    const unresolved = checkFlowPaths(flow, notes, options);
    if (strict && unresolved.length > 0) {
      report(ctx, path, file, "flow", unresolvedProblems(unresolved));
      return EXIT.failure;
    }
    if (ctx.json)
      ctx.out(JSON.stringify({ command: "validate", file: path, kind: "flow", valid: true, flowId: flow.id, notes, warnings: unresolved }, null, 2));
    else {
      ctx.out(`${file}: valid flow ${flow.id} (${flow.source.endpoint} → ${flow.target.type} ${flow.target.operation}${flow.operation ? ", merged" : ""})`);
      for (const n of notes) ctx.out(`  note: ${n}`);
      for (const u of unresolved) ctx.out(`  ${warningLine(u)}`);
    }
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
  if (target !== undefined && target !== "tplus" && target !== "kis")
    throw new ConfigError(`--target "${target}" is not a target`, { hint: "use --target tplus or --target kis", details: { option: "target" } });
  const id = ctx.string("id");
  const table = ctx.string("lookup-table");
  const options = await qeasyOptions(ctx);
  const { part, result, notes, unresolved } = importQeasyPart(json, {
    ...options,
    ...(id ? { id } : {}),
    ...(target ? { targetType: target } : {}),
    ...(table ? { mongoQueryTable: table } : {}),
  });
  const text = `${JSON.stringify(result, null, 2)}\n`;
  const out = ctx.string("out");
  const name = part === "scheme" ? `flow ${(result as { id: string }).id}` : `QEasy ${part} block`;
  if (out) {
    await writeFile(resolve(ctx.io.cwd, out), text, "utf8");
    if (!ctx.json) ctx.err(`wrote ${name} to ${out}`);
  }
  for (const n of notes) ctx.err(`note: ${n}`);
  for (const u of unresolved) ctx.err(warningLine(u));
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        {
          command: "import-qeasy",
          part,
          ...(part === "scheme" ? { flowId: (result as { id: string }).id } : {}),
          out: out ?? null,
          notes,
          warnings: unresolved,
          ...(out ? {} : part === "scheme" ? { flow: result } : { result }),
        },
        null,
        2,
      ),
    );
  } else if (!out) ctx.out(text);
  return EXIT.ok;
}
