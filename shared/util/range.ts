/**
 * The one reading of a sync or reconcile range, for every host (CLI, Action, the Worker's HTTP routes and its
 * reconcile): dates are wall-clock `yyyy-MM-dd[ HH:mm[:ss]]` in the FLOW's zone (Asia/Shanghai by default), or epoch
 * ms. A date without a time as `to` means that whole day is included: the range ends at the start of the next day
 * in the zone (23 or 25 hours later on a day the zone shifts its clock). Ranges are half-open [from, to) in epoch ms,
 * like the engine's windows.
 */
import { BridgeError, type BridgeErrorOptions, ConfigError } from "../errors.ts";
import { addDaysToDay, DEFAULT_ZONE, formatInZone, parseInZone } from "./time.ts";

/** yyyy-MM-dd, or compact yyyyMMdd (parseInZone reads both). */
const DATE_ONLY = /^\d{4}-?\d{2}-?\d{2}$/;

/** How messages name an option: `--from` on the command line, `input from` in the Action, `from` in an HTTP body. */
export type OptionStyle = "cli" | "action" | "http";
export const optionName = (option: string, style: OptionStyle) => (style === "cli" ? `--${option}` : style === "action" ? `input ${option}` : option);

/** A bad range is the request's fault over HTTP (400 invalid_request), the configuration's on the CLI / Action. */
function rangeError(style: OptionStyle, message: string, options: BridgeErrorOptions): BridgeError {
  return style === "http" ? new BridgeError("invalid_request", message, options) : new ConfigError(message, options);
}

/** One bound: epoch ms as given, or wall-clock text in `zone`; `end` makes a date-only text include that whole day. */
export function parseDateOption(option: string, text: string | number, zone: string = DEFAULT_ZONE, end = false, style: OptionStyle = "cli"): number {
  if (typeof text === "number") return text;
  const parsed = parseInZone(text, zone);
  if (parsed === null) {
    throw rangeError(style, `${optionName(option, style)} "${text}" is not a date`, {
      hint: `write it as yyyy-MM-dd or "yyyy-MM-dd HH:mm:ss" (${zone} wall-clock time)${style === "http" ? ", or epoch ms" : ""}`,
      details: { option },
    });
  }
  // An end date without a time includes that whole day: the next civil day's start in the zone.
  return end && DATE_ONLY.test(text.trim()) ? parseInZone(addDaysToDay(formatInZone(parsed, "YYYY-MM-DD", zone), 1), zone)! : parsed;
}

/** Both bounds or neither (undefined: an incremental run from the watermark); `to` must be after `from`. */
export function parseRange(
  from: string | number | undefined,
  to: string | number | undefined,
  zone?: string,
  style: OptionStyle = "cli",
): { from: number; to: number } | undefined {
  if (from === undefined && to === undefined) return undefined;
  if (from === undefined || to === undefined) {
    throw rangeError(style, `${optionName(from === undefined ? "from" : "to", style)} is missing`, {
      hint: `give both ${optionName("from", style)} and ${optionName("to", style)} for a backfill, or neither for an incremental run that continues from the watermark`,
    });
  }
  const range = { from: parseDateOption("from", from, zone, false, style), to: parseDateOption("to", to, zone, true, style) };
  if (range.to <= range.from) {
    throw rangeError(style, `${optionName("to", style)} (${to}) is not after ${optionName("from", style)} (${from})`, {
      hint: "swap them, or widen the range",
    });
  }
  return range;
}
