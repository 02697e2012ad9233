/**
 * The red (reversing) document form each target accepts, as `doctor --write-probe` learned it (red-probe.ts),
 * and how the engine's correction settings use it (docs/changes.md). Not public for either target
 * (../shared/docs/reversals-and-periods.md §1.4 KIS FROB -1 quantity sign, §2.5 T+ business type / sign), so the
 * probe writes one red document on the account and keeps what was accepted under RED_FORM_KEY — its own key, so a
 * later read-only doctor (GET /doctor) does not forget it. The environment wins per target: when any of the
 * target's red variables is set (KIS_RED_QTY_SIGN; TPLUS_RED_QTY_SIGN / TPLUS_RED_BUSI_TYPE), the learned form is
 * not used for that target (a sign and a business type are one choice, never mixed from two sources).
 * Small on purpose: the runner and the Worker read it without the checks.
 */
import { tplusResourceOf } from "../connectors/tplus/line-shapes.ts";
import { correctionShape } from "../engine/change-settings.ts";
import type { KeyValueStore } from "../ports.ts";

export const RED_FORM_KEY = "doctor/red-form";

export type RedQtySign = "negative" | "positive";

export type LearnedTplusForm = { redQtySign: RedQtySign; redBusiType?: string; at: number };

/**
 * `tplus`: the last T+ form learned (kept for readers of older results); `tplusByKind`: per T+ resource
 * (otherDispatch, saleDelivery …), because the business type of a red voucher is per voucher kind (14 其他退库 vs
 * 16 销售退货, fields BusiType vs BusinessType): a 销货单 flow must not take what an 其他出库 probe learned.
 */
export interface LearnedRedForm {
  kis?: { redQtySign: RedQtySign; at: number };
  tplus?: LearnedTplusForm;
  tplusByKind?: Record<string, LearnedTplusForm>;
}

function tplusForm(raw: LearnedTplusForm | undefined): LearnedTplusForm | undefined {
  if (!raw || !isSign(raw.redQtySign)) return undefined;
  const busi = typeof raw.redBusiType === "string" && raw.redBusiType !== "" ? { redBusiType: raw.redBusiType } : {};
  return { redQtySign: raw.redQtySign, ...busi, at: Number(raw.at) || 0 };
}

/** `b` over `a`, per target and per T+ kind. */
export function mergeLearned(a: LearnedRedForm | undefined, b: LearnedRedForm): LearnedRedForm {
  const byKind = a?.tplusByKind || b.tplusByKind ? { tplusByKind: { ...a?.tplusByKind, ...b.tplusByKind } } : {};
  return { ...a, ...b, ...byKind };
}

/**
 * The learned T+ form for a flow writing `operation`: its kind's own. A store written before forms were kept per
 * kind has only `tplus`, learned on the shipped 其他出库 flow: it is used for 其他出库/其他入库 (same business types
 * 13/14) that have no form of their own, never for another kind. Without an operation (doctor's summary): the last one learned.
 */
export function learnedTplusFor(learned: LearnedRedForm, operation?: string): LearnedTplusForm | undefined {
  if (operation === undefined) return learned.tplus;
  const kind = tplusResourceOf(operation);
  const own = learned.tplusByKind?.[kind];
  if (own) return own;
  // `tplus` from an older probe (no keyed entry learned at the same moment): the shipped 其他出库 flow's form.
  const legacy = learned.tplus && !Object.values(learned.tplusByKind ?? {}).some((f) => f.at === learned.tplus!.at) ? learned.tplus : undefined;
  return kind === "otherDispatch" || kind === "otherReceive" ? legacy : undefined;
}

const ENV_VARS = { kis: ["KIS_RED_QTY_SIGN"], tplus: ["TPLUS_RED_QTY_SIGN", "TPLUS_RED_BUSI_TYPE"] } as const;

const isSign = (v: unknown): v is RedQtySign => v === "negative" || v === "positive";

/** The stored probe results; {} when none or unreadable (then the defaults apply). */
export async function readLearnedRedForm(kv: KeyValueStore | undefined): Promise<LearnedRedForm> {
  try {
    const raw = kv ? await kv.get(RED_FORM_KEY) : null;
    const parsed = raw ? (JSON.parse(raw) as LearnedRedForm) : {};
    const out: LearnedRedForm = {};
    if (parsed.kis && isSign(parsed.kis.redQtySign)) out.kis = { redQtySign: parsed.kis.redQtySign, at: Number(parsed.kis.at) || 0 };
    const tplus = tplusForm(parsed.tplus);
    if (tplus) out.tplus = tplus;
    if (parsed.tplusByKind && typeof parsed.tplusByKind === "object") {
      out.tplusByKind = {};
      for (const [kind, raw] of Object.entries(parsed.tplusByKind)) {
        const form = tplusForm(raw);
        if (form) out.tplusByKind[kind] = form;
      }
    }
    return out;
  } catch {
    return {};
  }
}

/** Keeps a newly learned form for one target beside the other target's. */
export async function storeLearnedRedForm(kv: KeyValueStore, learned: LearnedRedForm): Promise<LearnedRedForm> {
  const merged = mergeLearned(await readLearnedRedForm(kv), learned);
  await kv.put(RED_FORM_KEY, JSON.stringify(merged));
  return merged;
}

const envSets = (env: Record<string, string | undefined>, system: "kis" | "tplus") => ENV_VARS[system].some((v) => (env[v] ?? "").trim() !== "");

/**
 * The environment the correction settings read: the learned form filled in for a target the environment leaves
 * unset (T+: the form learned for the flow's voucher kind, `operation`).
 */
export function redFormEnv<E extends Record<string, string | undefined>>(env: E, learned: LearnedRedForm, operation?: string): E {
  const out: Record<string, string | undefined> = { ...env };
  if (learned.kis && !envSets(env, "kis")) out.KIS_RED_QTY_SIGN = learned.kis.redQtySign;
  const tplus = learnedTplusFor(learned, operation);
  if (tplus && !envSets(env, "tplus")) {
    out.TPLUS_RED_QTY_SIGN = tplus.redQtySign;
    if (tplus.redBusiType !== undefined) out.TPLUS_RED_BUSI_TYPE = tplus.redBusiType;
  }
  return out as E;
}

/** `redFormEnv` with the stored probe results, for a flow writing `operation`. */
export async function withLearnedRedForm<E extends Record<string, string | undefined>>(env: E, kv: KeyValueStore | undefined, operation?: string): Promise<E> {
  return redFormEnv(env, await readLearnedRedForm(kv), operation);
}

export interface RedFormChoice {
  /** The target's correction settings in force (KIS_RED_QTY_SIGN …). */
  settings: Record<string, string>;
  /** Where they come from: "env …", "doctor write probe <ISO time>" or "default (no doctor --write-probe result)". */
  source: string;
  learned: boolean;
}

/** What a flow on `system` uses and why: shown by doctor and GET /flows. Throws a ConfigError on a bad variable. */
export function redFormChoice(system: "kis" | "tplus", env: Record<string, string | undefined>, learned: LearnedRedForm, operation?: string): RedFormChoice {
  const settings = correctionShape(system, redFormEnv(env, learned, operation)).describe();
  if (envSets(env, system)) return { settings, source: `env ${ENV_VARS[system].filter((v) => (env[v] ?? "").trim() !== "").join(", ")}`, learned: false };
  const at = system === "kis" ? learned.kis?.at : learnedTplusFor(learned, operation)?.at;
  if (at !== undefined) return { settings, source: `doctor write probe ${new Date(at).toISOString()}`, learned: true };
  return { settings, source: "default (no doctor --write-probe result)", learned: false };
}

/** GET /flows: a flow's red form and its source, or the configuration error that stops its corrections. */
export function redFormOf(
  flow: { target: { type: "kis" | "tplus"; operation?: string } },
  env: Record<string, string | undefined>,
  learned: LearnedRedForm,
): RedFormChoice | { error: string } {
  try {
    return redFormChoice(flow.target.type, env, learned, flow.target.operation);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
