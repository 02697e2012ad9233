/**
 * Settings that would be accepted and then have no effect, or silently disagree with another setting, are
 * refused (Benthos-style lint, issue 18 item 3): a flow that says it does something it does not is worse
 * than an error that says how to fix it.
 */
import type { FlowProblem } from "./issues.ts";
import type { Flow } from "./schema.ts";
import { isWindowBoundPlaceholder, WINDOW_PARAMS, windowParamHint } from "./window-params.ts";

/** What `params.date_type` makes Jushuitan filter by: 2 = io_date; 0 or absent = modified; anything else unknown. */
function dateTypeField(value: unknown): "modified" | "io_date" | undefined {
  if (value === undefined) return "modified";
  const text = String(value).trim();
  return text === "2" ? "io_date" : text === "0" ? "modified" : undefined;
}

export function ineffectiveSettingProblems(flow: Flow): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const source = flow.source;
  if (source.paging.type === "cursor") {
    problems.push({
      path: "source.paging.type",
      problem:
        '"cursor" has no effect: the engine chooses its paging itself (rowversion start_ts where the endpoint and rows allow it, else keyset or offset) and records it per window',
      hint: 'use "window" (or leave paging out)',
    });
  }
  problems.push(...windowParamProblems(source.params));
  if (flow.target.batchSize !== undefined) {
    // Nothing reads it: the target is built without it (compose/connectors.ts) and the engine writes one document at a time.
    problems.push({
      path: "target.batchSize",
      problem: `${flow.target.batchSize} has no effect: documents are written one at a time (each with its own idempotency check), never in batches`,
      hint: "remove it",
    });
  }
  problems.push(...onExistingProblems(flow.target));
  const filtered = dateTypeField(source.params.date_type);
  if (source.timeField && filtered && source.timeField !== filtered) {
    const given =
      source.params.date_type === undefined ? "is not set (Jushuitan then filters by modified)" : `is ${JSON.stringify(source.params.date_type)} (${filtered})`;
    problems.push({
      path: "source.timeField",
      problem: `"${source.timeField}" disagrees with source.params.date_type, which ${given}: Jushuitan would select rows by one field and the windows keep them by the other, dropping rows`,
      hint:
        source.timeField === "io_date"
          ? 'set source.params.date_type to 2, or timeField to "modified"'
          : 'set source.params.date_type to 0, or timeField to "io_date"',
    });
  }
  return problems;
}

/** Request params the reader sets itself per window and page: a flow's own value would be dropped without a word. */
function windowParamProblems(params: Readonly<Record<string, unknown>>): FlowProblem[] {
  const problems: FlowProblem[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (!WINDOW_PARAMS.has(name) || isWindowBoundPlaceholder(name, value)) continue;
    problems.push({
      path: `source.params.${name}`,
      problem: `${JSON.stringify(value)} has no effect: the reader sets ${name} itself for every window and page, and drops the flow's value`,
      hint: windowParamHint(name),
    });
  }
  return problems;
}

/**
 * onExisting becomes the run's onChanged, which only document-writer.ts changedAfterWrite reads; with onChange set,
 * changed documents go to the change writer (not merged) or the outbox (merged) instead. The default "skip" cannot
 * be told from an unset value here, so only "error" is refused.
 */
function onExistingProblems(target: Flow["target"]): FlowProblem[] {
  if (target.onChange === undefined || target.onExisting !== "error") return [];
  return [
    {
      path: "target.onExisting",
      problem: `"error" has no effect next to target.onChange ("${target.onChange}"), which decides what happens to a document changed after it was written`,
      hint: 'for a dead letter on every change set target.onChange to "deadLetter" and remove onExisting, or remove onChange to keep the onExisting behaviour',
    },
  ];
}
