/**
 * Errors of the template language. Messages carry the JSON path of the value inside the flow, the
 * 1-based column and an excerpt of the expression with a caret, so a user can find and fix it.
 * Templates never contain secrets (variables are run metadata, never env vars), so quoting them is safe.
 */
import { BridgeError } from "../errors.ts";

const EXCERPT = 120;

/** A one-line excerpt of `source` around `column` (1-based) with a caret line under it. */
export function excerpt(source: string, column: number): string {
  const flat = source.replace(/[\r\n\t]/g, " ");
  const index = Math.max(0, Math.min(flat.length, column - 1));
  const start = Math.max(0, index - EXCERPT / 2);
  const end = Math.min(flat.length, start + EXCERPT);
  const prefix = start > 0 ? "…" : "";
  const suffix = end < flat.length ? "…" : "";
  const line = prefix + flat.slice(start, end) + suffix;
  return `  ${line}\n  ${" ".repeat(prefix.length + index - start)}^`;
}

function where(path: string | undefined, column: number): string {
  return `${path ? `${path}, ` : ""}column ${column}`;
}

export interface TemplateSyntaxDetails {
  path: string | undefined;
  source: string;
  /** 1-based column in `source`. */
  position: number;
  /** What the parser expected there. */
  expected: string;
}

/** The value or expression cannot be compiled. Raised at compile time, never during a run. */
export class TemplateSyntaxError extends BridgeError {
  constructor(message: string, details: TemplateSyntaxDetails, hint?: string) {
    super("template_syntax", `Template syntax error (${where(details.path, details.position)}): ${message}\n${excerpt(details.source, details.position)}`, {
      retryable: false,
      hint,
      details: { ...details },
    });
  }
}

export interface TemplateEvalDetails {
  path: string | undefined;
  source: string;
  /** 1-based column in `source` of the sub-expression that failed. */
  position: number;
  reason: string;
}

/** Evaluation failed for this record (type mismatch, bad date, size bound). */
export class TemplateEvalError extends BridgeError {
  constructor(details: TemplateEvalDetails, hint?: string, cause?: unknown) {
    super(
      "template_eval",
      `Template evaluation failed (${where(details.path, details.position)}): ${details.reason}\n${excerpt(details.source, details.position)}`,
      { retryable: false, hint, details: { ...details }, cause },
    );
  }
}

export interface LookupMissDetails {
  table: string;
  /** The evaluated conditions, path → value(s). */
  where: Record<string, unknown>;
  path: string | undefined;
}

/** A lookup found no row. Callers decide (default value, dead letter). */
export class LookupMissError extends BridgeError {
  constructor(details: LookupMissDetails) {
    super("lookup_miss", `Lookup found no row in table "${details.table}"${details.path ? ` (${details.path})` : ""} where ${safeJson(details.where)}`, {
      retryable: false,
      hint: `Add the missing row to reference table "${details.table}", or give the field a default in the mapping.`,
      details: { ...details },
    });
  }
}

function safeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return "(unprintable)";
  }
}
