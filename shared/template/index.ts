/**
 * The template and expression language of flows: `{field}` paths, `{{VAR|filter}}` run variables,
 * `_function <MySQL-flavoured expression>`, `_mongoQuery` / `_findCollection` lookups.
 * Values are compiled once (lexer → parser → AST → nested closures) and evaluated per record.
 * Reference: docs/template-language.md.
 */
export type { CompiledValue, CompileOptions, EvalScope, LookupTables, TemplateVars } from "./types.ts";
export { LookupMissError, TemplateEvalError, TemplateSyntaxError } from "./errors.ts";
export { compileExpression, compileValue } from "./compile.ts";
export { readPath } from "./paths.ts";
export { scopedPathReader } from "./template.ts";
export { scopedAggregateReader } from "./evaluate.ts";
export { BUILTIN_VARIABLES } from "./variables.ts";
