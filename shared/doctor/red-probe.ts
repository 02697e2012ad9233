/**
 * `doctor --write-probe`, red part: learns which red (reversing) document form the target accepts by writing one
 * that reverses the blue probe document just written (so the probe's net effect on the books is nil when it is
 * accepted). Nothing public settles the form (../shared/docs/reversals-and-periods.md):
 *  - KIS (§1.4): a bill with Head.FROB = -1 and quantities sent negative (the stored form, idx:44010856229) or
 *    positive (xiocode/project-matrix fix.ts:301-344 sends positive with FROB -1). Tried in that order.
 *  - T+ (§2.5 candidates a–c): the voucher's own business type with negative quantities; a return business type
 *    (TPLUS_RED_BUSI_TYPE, else 14 其他退库 / 16 销售退货, BusinessType.cs) with negative quantities; the same with
 *    positive ones. Tried in that order.
 * The red documents are composed by the same correction shapes (connectors/kis|tplus/reversal.ts) the engine
 * writes corrections with. A refusal for a closed period, a throttle or a network error says nothing about the
 * form: the probe then learns nothing (the line is "?").
 */
import type { CorrectionShape } from "../connectors/correction.ts";
import { kisCorrectionShape } from "../connectors/kis/reversal.ts";
import type { KisBillObject, KisBillType } from "../connectors/kis/operations.ts";
import type { KisOperations } from "../connectors/kis/index.ts";
import { tplusCorrectionShape } from "../connectors/tplus/reversal.ts";
import type { TplusClient } from "../connectors/tplus/operations.ts";
import { classifyRefusal, periodMatchers } from "../engine/periods.ts";
import { BridgeError } from "../errors.ts";
import type { LearnedRedForm, RedQtySign } from "./red-form.ts";

export interface RedProbeResult {
  learned?: LearnedRedForm;
  /** Every form tried and the target's answer, in order. */
  tried: Array<{ form: string; answer: string }>;
  /** The key of the red document written, when one was accepted. */
  redKey?: string;
  /** Blue probe documents the target booked (2 when it accepted a duplicate key) and how many a red one reverses. */
  blues: number;
  reversed: number;
}

const NOTE = "jst-bridge doctor probe (red): delete me";

/** "refused": the target said no to this form; "unknown": it failed for a reason that says nothing about the form. */
function judge(error: unknown, system: "kis" | "tplus", env: Record<string, string | undefined>): { verdict: "refused" | "unknown"; answer: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof BridgeError) || error.retryable) return { verdict: "unknown", answer: message };
  if (classifyRefusal(error, periodMatchers(system, env))) return { verdict: "unknown", answer: `period refusal: ${message}` };
  return { verdict: "refused", answer: message };
}

interface Candidate<T> {
  form: string;
  shape: CorrectionShape;
  learned: T;
}

/**
 * Reverses each further blue probe the target booked (it accepted a duplicate key: adv16-probe-net-duplicate) with
 * the accepted form, under `<redKey>2`, `<redKey>3` …; how many were reversed in all (the first included).
 */
async function reverseCopies(
  shape: CorrectionShape,
  blue: Record<string, unknown>,
  redKey: string,
  blues: number,
  write: (payload: Record<string, unknown>) => Promise<unknown>,
  tried: RedProbeResult["tried"],
) {
  let reversed = 1;
  for (let i = 2; i <= blues; i++) {
    try {
      await write(shape.compose(shape.head(blue), `${redKey}${i}`, shape.lines(blue), "red", NOTE));
      reversed++;
    } catch (error) {
      tried.push({ form: `reversal of blue probe copy ${i}`, answer: `failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return reversed;
}

/** Tries the candidates in order; stops at the first accepted one or at a failure that says nothing. */
async function tryForms<T>(
  candidates: Candidate<T>[],
  blue: Record<string, unknown>,
  redKey: string,
  blues: number,
  write: (payload: Record<string, unknown>) => Promise<unknown>,
  judgeError: (e: unknown) => ReturnType<typeof judge>,
) {
  const tried: RedProbeResult["tried"] = [];
  for (const c of candidates) {
    const payload = c.shape.compose(c.shape.head(blue), redKey, c.shape.lines(blue), "red", NOTE);
    try {
      await write(payload);
      tried.push({ form: c.form, answer: "accepted" });
      return { tried, accepted: c.learned, reversed: await reverseCopies(c.shape, blue, redKey, blues, write, tried) };
    } catch (error) {
      const { verdict, answer } = judgeError(error);
      tried.push({ form: c.form, answer: `${verdict}: ${answer}` });
      if (verdict === "unknown") break;
    }
  }
  return { tried, accepted: undefined, reversed: 0 };
}

/** KIS: a red bill `<probe>-R` reversing the blue probe bill `blue` (and one more per further booked copy: `blues`). */
export async function probeKisRedForm(
  ops: KisOperations,
  bill: KisBillType,
  blue: KisBillObject,
  probeKey: string,
  env: Record<string, string | undefined>,
  now: number,
  blues = 1,
): Promise<RedProbeResult> {
  const signs: RedQtySign[] = ["negative", "positive"];
  const candidates = signs.map((redQtySign) => ({
    form: `FROB=-1, ${redQtySign} quantities`,
    shape: kisCorrectionShape({ redQtySign, changeMode: "reverse_repost" }),
    learned: redQtySign,
  }));
  const redKey = `${probeKey}-R`;
  const out = await tryForms(
    candidates,
    blue as unknown as Record<string, unknown>,
    redKey,
    blues,
    (p) => ops.createBill(bill, p as unknown as KisBillObject),
    (e) => judge(e, "kis", env),
  );
  return { tried: out.tried, blues, reversed: out.reversed, ...(out.accepted ? { learned: { kis: { redQtySign: out.accepted, at: now } }, redKey } : {}) };
}

/** A return business type to try for a T+ voucher kind: TPLUS_RED_BUSI_TYPE, else 14 其他退库 / 16 销售退货. */
function returnBusiType(resource: string, env: Record<string, string | undefined>): string | undefined {
  const configured = env.TPLUS_RED_BUSI_TYPE?.trim();
  if (configured) return configured;
  if (/^other(dispatch|receive)$/i.test(resource)) return "14";
  if (/^sale/i.test(resource)) return "16";
  return undefined;
}

/** T+: a red voucher `<probe>-R` reversing the blue probe voucher `blue` (and one more per further booked copy). */
export async function probeTplusRedForm(
  client: TplusClient,
  resource: string,
  blue: Record<string, unknown>,
  probeKey: string,
  env: Record<string, string | undefined>,
  now: number,
  blues = 1,
): Promise<RedProbeResult> {
  const busi = returnBusiType(resource, env);
  const forms: Array<{ redQtySign: RedQtySign; redBusiType?: string }> = [
    { redQtySign: "negative" },
    ...(busi
      ? [
          { redQtySign: "negative" as const, redBusiType: busi },
          { redQtySign: "positive" as const, redBusiType: busi },
        ]
      : []),
  ];
  const candidates = forms.map((f) => ({
    form: `${f.redBusiType ? `BusiType ${f.redBusiType}` : "the voucher's own BusiType"}, ${f.redQtySign} quantities`,
    shape: tplusCorrectionShape({ ...f, changeMode: "difference" }, resource),
    learned: f,
  }));
  const redKey = `${probeKey}-R`;
  const out = await tryForms(
    candidates,
    blue,
    redKey,
    blues,
    (dto) => client.transport.call(`${resource}/Create`, { dto }),
    (e) => judge(e, "tplus", env),
  );
  const form = out.accepted ? { ...out.accepted, at: now } : undefined;
  return { tried: out.tried, blues, reversed: out.reversed, ...(form ? { learned: { tplus: form, tplusByKind: { [resource]: form } }, redKey } : {}) };
}
