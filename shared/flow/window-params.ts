/**
 * Jushuitan request parameters the reader sets itself per window and page (engine/runner.ts drops a flow's own
 * values for them). A flow that gives one is told so (flow/ineffective.ts) instead of being silently overridden.
 */
export const WINDOW_PARAMS: ReadonlySet<string> = new Set(["modified_begin", "modified_end", "page_index", "page_size", "start_ts", "ts"]);

/** The run variable each window bound stands for: a flow may keep it as that placeholder (what QEasy metadata writes). */
const WINDOW_BOUND_VARIABLE: Readonly<Record<string, string>> = { modified_begin: "LAST_SYNC_TIME", modified_end: "CURRENT_TIME" };

/** Whether `value` of window parameter `name` says what the reader sends anyway: the window bound's own placeholder. */
export function isWindowBoundPlaceholder(name: string, value: unknown): boolean {
  const variable = WINDOW_BOUND_VARIABLE[name];
  if (!variable || typeof value !== "string") return false;
  return new RegExp(`^\\{\\{\\s*${variable}\\s*(\\|\\s*datetime\\s*)?\\}\\}$`).test(value.trim());
}

/** What to do instead of giving window parameter `name` in source.params. */
export function windowParamHint(name: string): string {
  if (name === "page_size") return "remove it and set source.paging.pageSize instead";
  if (name === "page_index") return "remove it: the reader pages itself";
  if (name === "start_ts" || name === "ts") return "remove it: the reader uses rowversion (start_ts) itself where the endpoint and rows allow it";
  const variable = WINDOW_BOUND_VARIABLE[name];
  return `remove it (or write "{{${variable}|datetime}}"): each window sets ${name} itself; to start elsewhere use incremental.startAt or a range backfill`;
}
