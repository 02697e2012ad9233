// Placeholder while the interpreter lands; replaced by the real compiler.
import type { CompiledValue, CompileOptions } from "./types.ts";
import { TemplateSyntaxError } from "./errors.ts";

export function compileValue(source: string, options: CompileOptions = {}): CompiledValue {
  throw new TemplateSyntaxError("the template compiler is not implemented yet", { path: options.path, source, position: 1, expected: "" });
}

export function compileExpression(expr: string, options: CompileOptions = {}): CompiledValue {
  return compileValue(`_function ${expr}`, options);
}
