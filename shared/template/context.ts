/** Compile-time context shared by the template modules: where errors point, what a value reads. */
import { DEFAULT_ZONE } from "../util/time.ts";
import { TemplateEvalError, TemplateSyntaxError } from "./errors.ts";
import type { EvalScope } from "./types.ts";
import { ValueError } from "./values.ts";

/** An evaluator: one node of a compiled value, as a closure. */
export type Eval = (scope: EvalScope) => unknown;

export interface Site {
  readonly path: string | undefined;
  readonly source: string;
  readonly variables: readonly string[] | undefined;
  /** CompileOptions.lineArrays, split into path segments. */
  readonly lineArrays: readonly (readonly string[])[] | undefined;
}

export interface CompileCtx {
  readonly site: Site;
  readonly fields: Set<string>;
  readonly tables: Set<string>;
  usesDefaultTable: boolean;
  /** `items[].` while compiling the per-line expression of an aggregate. */
  prefix: string;
  /** Paths read whole by an aggregate (`SUM(items.qty)` projects through the array): checked as aggregates. */
  aggregates?: Set<string>;
}

export const MAX_EXPRESSION_LENGTH = 10_240;
export const MAX_TEMPLATE_LENGTH = 102_400;
export const MAX_DEPTH = 64;
/** Height of the syntax tree (long left-deep chains like a+b+c+…); keeps evaluation recursion shallow. */
export const MAX_HEIGHT = 256;

/** `index` is 0-based in `site.source`; errors report 1-based columns. */
export function syntaxError(site: Site, index: number, message: string, expected: string, hint: string): TemplateSyntaxError {
  return new TemplateSyntaxError(message, { path: site.path, source: site.source, position: index + 1, expected }, hint);
}

/** Turns a ValueError raised by a helper into a TemplateEvalError at the node's position. */
export function toEvalError(site: Site, index: number, error: unknown): unknown {
  if (error instanceof ValueError) {
    return new TemplateEvalError({ path: site.path, source: site.source, position: index + 1, reason: error.message }, error.hint);
  }
  return error;
}

export function evalError(site: Site, index: number, reason: string, hint?: string): TemplateEvalError {
  return new TemplateEvalError({ path: site.path, source: site.source, position: index + 1, reason }, hint);
}

/** Wraps a closure whose helpers may throw ValueError, so the error names this node's position. */
export function guard(site: Site, index: number, fn: Eval): Eval {
  return (s) => {
    try {
      return fn(s);
    } catch (e) {
      throw toEvalError(site, index, e);
    }
  };
}

export function zoneOf(s: EvalScope): string {
  return s.vars.timezone ?? DEFAULT_ZONE;
}
