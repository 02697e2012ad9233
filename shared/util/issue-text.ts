/**
 * English text for a schema issue. zod/mini (the small build the Worker uses) ships no locale, so an issue
 * without our own `error` text says only "Invalid input"; this gives it the wording zod's English locale would,
 * without loading the locale. Our own rule texts (the `error` options in the schemas) pass through unchanged.
 */
import type * as z from "zod/mini";

type Issue = z.core.$ZodIssue;

const DEFAULT_MESSAGE = "Invalid input";

function bound(issue: Issue & { inclusive?: boolean; exact?: boolean }, big: boolean): string {
  if (issue.exact) return "exactly";
  if (big) return issue.inclusive === false ? "less than" : "at most";
  return issue.inclusive === false ? "more than" : "at least";
}

export function issueText(issue: Issue): string {
  if (issue.message && issue.message !== DEFAULT_MESSAGE) return issue.message;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join("|")}`;
    case "too_small":
    case "too_big": {
      const limit = issue.code === "too_big" ? issue.maximum : issue.minimum;
      const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
      return `must be ${bound(issue, issue.code === "too_big")} ${String(limit)}${unit}`;
    }
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_union":
      return "matches none of the allowed forms";
    default:
      return "is invalid";
  }
}
