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
import { correctionShape } from "../engine/change-settings.ts";
import type { KeyValueStore } from "../ports.ts";

export const RED_FORM_KEY = "doctor/red-form";

export type RedQtySign = "negative" | "positive";

export interface LearnedRedForm {
  kis?: { redQtySign: RedQtySign; at: number };
  tplus?: { redQtySign: RedQtySign; redBusiType?: string; at: number };
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
    if (parsed.tplus && isSign(parsed.tplus.redQtySign)) {
      const busi = typeof parsed.tplus.redBusiType === "string" && parsed.tplus.redBusiType !== "" ? { redBusiType: parsed.tplus.redBusiType } : {};
      out.tplus = { redQtySign: parsed.tplus.redQtySign, ...busi, at: Number(parsed.tplus.at) || 0 };
    }
    return out;
  } catch {
    return {};
  }
}

/** Keeps a newly learned form for one target beside the other target's. */
export async function storeLearnedRedForm(kv: KeyValueStore, learned: LearnedRedForm): Promise<LearnedRedForm> {
  const merged = { ...(await readLearnedRedForm(kv)), ...learned };
  await kv.put(RED_FORM_KEY, JSON.stringify(merged));
  return merged;
}

const envSets = (env: Record<string, string | undefined>, system: "kis" | "tplus") => ENV_VARS[system].some((v) => (env[v] ?? "").trim() !== "");

/** The environment the correction settings read: the learned form filled in for a target the environment leaves unset. */
export function redFormEnv<E extends Record<string, string | undefined>>(env: E, learned: LearnedRedForm): E {
  const out: Record<string, string | undefined> = { ...env };
  if (learned.kis && !envSets(env, "kis")) out.KIS_RED_QTY_SIGN = learned.kis.redQtySign;
  if (learned.tplus && !envSets(env, "tplus")) {
    out.TPLUS_RED_QTY_SIGN = learned.tplus.redQtySign;
    if (learned.tplus.redBusiType !== undefined) out.TPLUS_RED_BUSI_TYPE = learned.tplus.redBusiType;
  }
  return out as E;
}

/** `redFormEnv` with the stored probe results. */
export async function withLearnedRedForm<E extends Record<string, string | undefined>>(env: E, kv: KeyValueStore | undefined): Promise<E> {
  return redFormEnv(env, await readLearnedRedForm(kv));
}

export interface RedFormChoice {
  /** The target's correction settings in force (KIS_RED_QTY_SIGN …). */
  settings: Record<string, string>;
  /** Where they come from: "env …", "doctor write probe <ISO time>" or "default (no doctor --write-probe result)". */
  source: string;
  learned: boolean;
}

/** What a flow on `system` uses and why: shown by doctor and GET /flows. Throws a ConfigError on a bad variable. */
export function redFormChoice(system: "kis" | "tplus", env: Record<string, string | undefined>, learned: LearnedRedForm): RedFormChoice {
  const settings = correctionShape(system, redFormEnv(env, learned)).describe();
  if (envSets(env, system)) return { settings, source: `env ${ENV_VARS[system].filter((v) => (env[v] ?? "").trim() !== "").join(", ")}`, learned: false };
  const at = learned[system]?.at;
  if (at !== undefined) return { settings, source: `doctor write probe ${new Date(at).toISOString()}`, learned: true };
  return { settings, source: "default (no doctor --write-probe result)", learned: false };
}

/** GET /flows: a flow's red form and its source, or the configuration error that stops its corrections. */
export function redFormOf(flow: { target: { type: "kis" | "tplus" } }, env: Record<string, string | undefined>, learned: LearnedRedForm): RedFormChoice | { error: string } {
  try {
    return redFormChoice(flow.target.type, env, learned);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
