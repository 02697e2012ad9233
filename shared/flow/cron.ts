/**
 * Validation of 5-field cron expressions as Cloudflare Cron Triggers and GitHub `schedule` accept them
 * (minute hour day-of-month month day-of-week; `*`, lists, ranges, steps, month/day names, `L`, `W`, `#`).
 * Only validation lives here: the platforms do the scheduling, the flow just has to hold a valid string that fires.
 */
import { nextCronTime } from "./cron-next.ts";

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Extra tokens this field accepts (Cloudflare's Quartz-style `L`, `W`, `#`). */
  extras: RegExp | null;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59, extras: null },
  { name: "hour", min: 0, max: 23, extras: null },
  { name: "day of month", min: 1, max: 31, extras: /^(L|\d{1,2}W|LW)$/i },
  { name: "month", min: 1, max: 12, names: MONTHS, extras: null },
  { name: "day of week", min: 0, max: 7, names: DAYS, extras: /^([0-7]|[A-Z]{3})(L|#[1-5])$|^L$/i },
];

function atom(text: string, field: CronField): number | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : null;
  }
  const index = field.names?.indexOf(text.toUpperCase() as never) ?? -1;
  if (index < 0) return null;
  return field.name === "month" ? index + 1 : index;
}

function checkPart(part: string, field: CronField): string | null {
  if (field.extras?.test(part)) return null;
  const [range, step, ...rest] = part.split("/");
  if (rest.length > 0 || range === undefined || range === "") return `"${part}" is not a valid ${field.name}`;
  if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `step "${step}" in ${field.name} must be a positive integer`;
  if (range === "*" || range === "?") return null;
  const bounds = range.split("-");
  if (bounds.length > 2) return `"${range}" is not a valid ${field.name} range`;
  const values = bounds.map((b) => atom(b, field));
  if (values.some((v) => v === null)) {
    const allowed = field.names ? `${field.min}-${field.max} or ${field.names.join(",")}` : `${field.min}-${field.max}`;
    return `"${range}" is outside the ${field.name} range (${allowed})`;
  }
  if (values.length === 2 && values[0]! > values[1]!) return `range "${range}" in ${field.name} runs backwards`;
  return null;
}

/** Returns null when `expression` is a valid 5-field cron expression, else what is wrong with it. */
export function cronProblem(expression: string): string | null {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === "") {
    return `expected 5 fields (minute hour day-of-month month day-of-week), found ${parts[0] === "" ? 0 : parts.length}`;
  }
  for (let i = 0; i < 5; i++) {
    const field = FIELDS[i]!;
    for (const piece of parts[i]!.split(",")) {
      const problem = checkPart(piece, field);
      if (problem) return problem;
    }
  }
  return neverFires(parts) ? "its day of month never occurs in its months (April has no 31st, February no 30th): the schedule would never fire" : null;
}

// From 2027-03-01 two years of days include a 29 February (2028): every day/month combination that exists is met.
const NEVER_FIRES_PROBE = Date.UTC(2027, 2, 1);

/** A valid expression with no instant at all; Quartz extras (L, W, #), which cron-next.ts does not expand, are left alone. */
function neverFires(parts: readonly string[]): boolean {
  if (/[LW]/i.test(parts[2]!) || /[#L]/i.test(parts[4]!)) return false;
  return nextCronTime(parts.join(" "), NEVER_FIRES_PROBE) === null;
}
