/**
 * Exit codes and how errors are shown. Every error says what went wrong, where, and how to fix it;
 * the text passes through the redactor, so a secret value never reaches the terminal or a CI log.
 */
import { BridgeError } from "../../shared/errors.ts";
import type { Redactor } from "./io.ts";

/**
 * 0 success · 1 failure (bad input, configuration, an upstream error, the flow is locked) ·
 * 2 partial (the run finished but some documents were dead-lettered) · 3 drift (reconcile found differences).
 */
export const EXIT = { ok: 0, failure: 1, partial: 2, drift: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function toBridge(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  if (error instanceof Error) return new BridgeError("internal", error.message, { cause: error });
  return new BridgeError("internal", String(error));
}

/** Where: the JSON path, file, variable or window the error names (details carry it). */
export function whereOf(error: BridgeError): string | undefined {
  const d = error.details ?? {};
  const parts: string[] = [];
  for (const key of ["file", "path", "option", "table", "window", "flowId", "op", "key"]) {
    const v = d[key];
    if (v === undefined || v === null || v === "") continue;
    parts.push(`${key} ${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  if (Array.isArray(d.missing) && d.missing.length) parts.push(`missing ${d.missing.join(", ")}`);
  return parts.length ? parts.join(", ") : undefined;
}

export function formatError(error: unknown, redactor: Redactor, context?: string): string {
  const e = toBridge(error);
  const lines = [`error: ${e.message}${e.code && e.code !== "internal" ? ` [${e.code}]` : ""}`];
  const where = [context, whereOf(e)].filter(Boolean).join("; ");
  if (where) lines.push(`  where: ${where}`);
  lines.push(
    `  fix:   ${e.hint ?? (e.code === "internal" ? "this looks like a bug in jst-bridge; please report it with the command you ran" : "see the message above")}`,
  );
  return redactor.apply(lines.join("\n")) + "\n";
}
