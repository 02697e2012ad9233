/**
 * Entry points: compileValue (a mapping value: literal, template, `_function`, `_mongoQuery`,
 * `_findCollection`) and compileExpression (a bare expression).
 */
import { BridgeError } from "../errors.ts";
import { MAX_EXPRESSION_LENGTH, MAX_TEMPLATE_LENGTH, evalError, syntaxError, type CompileCtx, type Eval, type Site } from "./context.ts";
import { formatSqlDate } from "./dates.ts";
import { TemplateSyntaxError } from "./errors.ts";
import { compileNode } from "./evaluate.ts";
import { compileLookup, parseFindCollection, parseMongoQuery } from "./lookup.ts";
import { parseExpression } from "./parser.ts";
import { compileTemplate } from "./template.ts";
import type { CompiledValue, CompileOptions, EvalScope } from "./types.ts";
import { SqlDate } from "./values.ts";
import { DEFAULT_ZONE } from "../util/time.ts";

type Kind = CompiledValue["kind"];

const PREFIX = /^_(function|mongoQuery|findCollection)(?![\p{L}\p{N}_$])/iu;

class Compiled implements CompiledValue {
  readonly source: string;
  readonly kind: Kind;
  readonly fields: readonly string[];
  readonly aggregateFields?: readonly string[];
  readonly tables: readonly string[];
  readonly usesDefaultTable: boolean;
  readonly evaluate: (scope: EvalScope) => unknown;

  constructor(ctx: CompileCtx, kind: Kind, run: Eval, finalize: boolean) {
    this.source = ctx.site.source;
    this.kind = kind;
    this.fields = Object.freeze([...ctx.fields]);
    if (ctx.aggregates) this.aggregateFields = Object.freeze([...ctx.aggregates]);
    this.tables = Object.freeze([...ctx.tables]);
    this.usesDefaultTable = ctx.usesDefaultTable;
    const site = ctx.site;
    this.evaluate = (scope) => {
      try {
        const v = run(scope);
        return finalize ? finish(v, scope) : v;
      } catch (e) {
        if (e instanceof BridgeError) throw e;
        // A bug or a runtime limit (stack, memory) must still surface as a template error.
        throw evalError(site, 0, `internal error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    };
  }
}

/** Expression results leave the language as JSON-friendly values: dates as text, NULL as null. */
function finish(v: unknown, scope: EvalScope): unknown {
  if (v === undefined) return null;
  if (v === 0) return 0; // no -0 in results
  if (v instanceof SqlDate) return formatSqlDate(v, scope.vars.timezone ?? DEFAULT_ZONE);
  return v;
}

function newContext(source: string, options: CompileOptions): CompileCtx {
  const lineArrays = options.lineArrays && options.lineArrays.length > 0 ? options.lineArrays.map((a) => a.split(".")) : undefined;
  const site: Site = { path: options.path, source, variables: options.variables, lineArrays };
  return { site, fields: new Set(), tables: new Set(), usesDefaultTable: false, prefix: "" };
}

function guardCompile(source: string, options: CompileOptions, body: () => CompiledValue): CompiledValue {
  try {
    return body();
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    throw new TemplateSyntaxError(`internal error while compiling: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, {
      path: options.path,
      source: typeof source === "string" ? source : String(source),
      position: 1,
      expected: "",
    });
  }
}

/** An expression or lookup (from `start` to the end of the value) over MAX_EXPRESSION_LENGTH characters is refused. */
function refuseLongerThanLimit(ctx: CompileCtx, start: number, what: "expression" | "lookup", fix: string): void {
  if (ctx.site.source.length - start > MAX_EXPRESSION_LENGTH)
    throw syntaxError(ctx.site, start + MAX_EXPRESSION_LENGTH, `${what} longer than ${MAX_EXPRESSION_LENGTH} characters`, `a shorter ${what}`, fix);
}

function expression(ctx: CompileCtx, start: number, kind: Kind): CompiledValue {
  const source = ctx.site.source;
  refuseLongerThanLimit(ctx, start, "expression", "Split the logic over several fields or use a lookup table.");
  const node = parseExpression(ctx, start, source.length);
  return new Compiled(ctx, kind, compileNode(ctx, node), true);
}

/**
 * Compiles a mapping value once. Throws TemplateSyntaxError (with path, column and hint) for anything
 * that cannot run; the result's evaluate() throws TemplateEvalError / LookupMissError per record.
 */
export function compileValue(source: string, options: CompileOptions = {}): CompiledValue {
  return guardCompile(source, options, () => {
    if (typeof source !== "string") {
      throw new TemplateSyntaxError(
        `a value must be text, got ${source === null ? "null" : typeof source}`,
        { path: options.path, source: String(source), position: 1, expected: "text" },
        "Quote the value in the flow file.",
      );
    }
    const ctx = newContext(source, options);
    const lead = source.length - source.trimStart().length;
    const prefix = PREFIX.exec(source.slice(lead, lead + 20));
    if (prefix) {
      const start = lead + prefix[0].length;
      if (start < source.length && !/\s/.test(source[start]!)) {
        throw syntaxError(ctx.site, start, `expected a space after ${prefix[0]}`, "whitespace", `Write "${prefix[0]} …" with a space.`);
      }
      const word = prefix[1]!.toLowerCase();
      if (word === "function") return expression(ctx, start, "function");
      refuseLongerThanLimit(ctx, start, "lookup", "Shorten the lookup conditions.");
      if (word === "mongoquery") {
        const spec = parseMongoQuery(ctx, start, source.length, lead);
        return new Compiled(ctx, "lookup", compileLookup(spec, "throw"), false);
      }
      const found = parseFindCollection(ctx, start, source.length, false, lead);
      if (source.slice(found.end).trim() !== "") {
        throw syntaxError(
          ctx.site,
          found.end + (source.slice(found.end).length - source.slice(found.end).trimStart().length),
          "unexpected text after _endFind",
          "the end of the value",
          "To combine a lookup with other logic, use _function … _findCollection … _endFind ….",
        );
      }
      return new Compiled(ctx, "lookup", compileLookup(found.spec, "throw"), false);
    }
    if (source.length > MAX_TEMPLATE_LENGTH)
      throw syntaxError(
        ctx.site,
        MAX_TEMPLATE_LENGTH,
        `value longer than ${MAX_TEMPLATE_LENGTH} characters`,
        "a shorter value",
        "Keep long fixed text out of templates.",
      );
    const template = compileTemplate(ctx, 0, source.length);
    return new Compiled(ctx, template.kind, template.evaluate, false);
  });
}

/** Compiles a bare expression (no `_function ` prefix), e.g. a condition or a computed column. */
export function compileExpression(expr: string, options: CompileOptions = {}): CompiledValue {
  return guardCompile(expr, options, () => {
    if (typeof expr !== "string") {
      throw new TemplateSyntaxError(`an expression must be text, got ${expr === null ? "null" : typeof expr}`, {
        path: options.path,
        source: String(expr),
        position: 1,
        expected: "text",
      });
    }
    return expression(newContext(expr, options), 0, "function");
  });
}
