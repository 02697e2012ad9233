/**
 * Closed accounting periods (已结账/月结) and dates before the account's enable date (启用日期): recognising the
 * targets' refusals and applying the flow's `closedPeriod` policy (docs/changes.md).
 * The real refusal texts of KIS koas and T+ are NOT public (../shared/docs/reversals-and-periods.md §3.1, §3.2:
 * "NOT FOUND"); the defaults below match the wording the vendors use in their UIs and help pages
 * (KIS 迷你版 "总账结账之后,是不能录入当前账期日期之前的凭证", https://44.wendadaohang.com/zd/D6GDY3YRDGW333GKZV.html)
 * and are overridable per target: KIS_PERIOD_CLOSED_PATTERN, KIS_ENABLE_DATE_PATTERN, TPLUS_PERIOD_CLOSED_PATTERN,
 * TPLUS_ENABLE_DATE_PATTERN (regular expressions over "<error code> <message>").
 */
import { BridgeError, ConfigError } from "../errors.ts";
import type { TargetConnector, TargetWrite, TargetWriteOptions, TargetWriteResult } from "../connectors/target.ts";
import type { CorrectionShape } from "../connectors/correction.ts";
import { DATE_FORMAT, formatInZone } from "../util/time.ts";

export type PeriodRefusal = "period_closed" | "before_enable_date";

/** The memo a redated document carries (its original date): placement.ts tells a redated posting from a date edit by it. */
export const redateNote = (date: string) => `原日期 ${date}`;
export type ClosedPeriodPolicy = "hold" | "redate";

export interface PeriodMatchers {
  closed: RegExp;
  beforeEnable: RegExp;
}

export const DEFAULT_CLOSED_PATTERN =
  "已结账|已经结账|已月结|已关账|期间已关闭|不能(小于|早于)[^，,。]{0,20}当前(会计|仓存|库存)?期间|(会计|账务|库存|仓存)期间[^，,。]{0,20}(结账|关闭|封存)|不能(录入|保存)[^，,。]{0,20}(当前)?(账期|期间)[^，,。]{0,10}之前|period[^.]{0,30}closed";
export const DEFAULT_ENABLE_PATTERN =
  "(早于|小于|之前|不能早于)[^，,。]{0,20}启用(日期|期间)|启用(日期|期间)[^，,。]{0,20}(之前|不能|早于|小于)|before[^.]{0,30}(enable|start)[^.]{0,10}date";

function pattern(env: Record<string, string | undefined>, name: string, fallback: string): RegExp {
  const raw = env[name];
  try {
    return new RegExp(raw && raw.trim() !== "" ? raw : fallback, "i");
  } catch (error) {
    throw new ConfigError(`${name} is not a valid regular expression: ${(error as Error).message}`, { hint: `fix ${name} or unset it for the default` });
  }
}

export function periodMatchers(system: "kis" | "tplus", env: Record<string, string | undefined>): PeriodMatchers {
  const prefix = system === "kis" ? "KIS" : "TPLUS";
  return {
    closed: pattern(env, `${prefix}_PERIOD_CLOSED_PATTERN`, DEFAULT_CLOSED_PATTERN),
    beforeEnable: pattern(env, `${prefix}_ENABLE_DATE_PATTERN`, DEFAULT_ENABLE_PATTERN),
  };
}

/** A permanent refusal that names a closed period or the enable date; undefined for anything else. */
export function classifyRefusal(error: unknown, matchers: PeriodMatchers): PeriodRefusal | undefined {
  if (!(error instanceof BridgeError) || error.retryable) return undefined;
  const text = `${error.code} ${error.message}`;
  if (matchers.beforeEnable.test(text)) return "before_enable_date";
  if (matchers.closed.test(text)) return "period_closed";
  return undefined;
}

/**
 * The redated payload of a write whose redated send failed (its outcome may be unknown): a write left in doubt is
 * the redated one, and its before-image must hold the date it may stand on (adv7-redate-lost-answer).
 */
const redatedSends = new WeakMap<object, Record<string, unknown>>();
export const redatedSendOf = (error: unknown): Record<string, unknown> | undefined =>
  error !== null && typeof error === "object" ? redatedSends.get(error) : undefined;

/** A write answered after redating: `writtenPayload` is what the target holds (the built payload is not). */
export type RedatedWriteResult = TargetWriteResult & { writtenPayload?: Record<string, unknown> };

export interface PeriodPolicy {
  policy: ClosedPeriodPolicy;
  matchers: PeriodMatchers;
  shape: CorrectionShape;
  timezone: string;
  now: () => number;
}

/** The dead letter a held refusal becomes: its own class, so alerts and the dashboard name it. */
export function periodError(kind: PeriodRefusal, cause: BridgeError, date: string | undefined, redated?: string): BridgeError {
  const what = kind === "period_closed" ? "its accounting period is closed (已结账)" : "its date is before the account's enable date (启用日期)";
  return new BridgeError(
    kind,
    `the target refused the document dated ${date ?? "?"}${redated ? ` (also re-dated to ${redated})` : ""}: ${what}: ${cause.message}`,
    {
      retryable: false,
      cause,
      hint:
        kind === "period_closed"
          ? 'reopen the period in the target (反结账) and replay this dead letter, or set the flow\'s target.closedPeriod to "redate"'
          : "the document predates the account: post it by hand, or replay after moving the enable date",
      details: { refusal: kind, date, ...(redated ? { redated } : {}) },
    },
  );
}

/**
 * Writes once; a period refusal becomes a `period_closed` / `before_enable_date` error (hold), or with "redate"
 * the document is written again dated the first day of the current month in the flow's timezone (the earliest
 * day that can be open without knowing the target's calendar), with the original date in the memo.
 */
export async function writeWithPeriodPolicy(
  target: TargetConnector,
  write: TargetWrite,
  options: TargetWriteOptions,
  policy: PeriodPolicy,
  beforeRedatedSend?: (payload: Record<string, unknown>) => Promise<void>,
): Promise<TargetWriteResult> {
  try {
    return await target.write(write, options);
  } catch (error) {
    const kind = classifyRefusal(error, policy.matchers);
    if (!kind) throw error;
    const date = policy.shape.dateOf(write.payload);
    if (policy.policy !== "redate" || kind !== "period_closed") throw periodError(kind, error as BridgeError, date);
    const firstOpen = `${formatInZone(policy.now(), DATE_FORMAT, policy.timezone).slice(0, 8)}01`;
    if (date !== undefined && date >= firstOpen) throw periodError(kind, error as BridgeError, date);
    const redated = { ...write, payload: policy.shape.redate(write.payload, firstOpen, redateNote(date ?? "?")) };
    await beforeRedatedSend?.(redated.payload); // the page's write intent names what may now stand in the target
    try {
      // The payload actually written travels with the result: the before-image must hold the date the target booked,
      // or a later reversal lands in the original (reopened) period (adversary finding adv16-redate-correction-other-day).
      return { ...(await target.write(redated, options)), writtenPayload: redated.payload } as RedatedWriteResult;
    } catch (again) {
      const kind2 = classifyRefusal(again, policy.matchers);
      if (kind2) throw periodError(kind2, again as BridgeError, date, firstOpen);
      if (again !== null && typeof again === "object") redatedSends.set(again, redated.payload);
      throw again;
    }
  }
}
