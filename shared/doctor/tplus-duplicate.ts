/**
 * What `doctor --write-probe` saw T+ answer to a second create under the same ExternalCode, kept under its own key so
 * a later read-only doctor (or GET /doctor) does not forget it, as for the red form (red-form.ts).
 * The engine uses it for writes left in doubt (engine/pending-writes.ts, adv16c-pending-key-reuse): a T+ account that
 * cannot read vouchers back (no FindVoucherList) cannot say whether a write whose answer was lost is there; sending it
 * again settles it — a duplicate answer proves it is, an acceptance that it was not — but only where T+ refuses a
 * duplicate ExternalCode and we recognise the refusal. Public evidence says T+ checks it ("外部系统数据编号 … 后台做唯一性
 * 检查", ../shared/docs/wire-evidence.md T+ row "Duplicate ExternalCode answer"), but the answer's code and text are
 * not public (wire-evidence.md §4): so only this account's own probe answer unlocks the resend.
 */
import type { KeyValueStore } from "../ports.ts";

export const TPLUS_DUPLICATE_KEY = "doctor/tplus-duplicate";

export interface TplusDuplicateFinding {
  code: string | undefined;
  message: string;
  /** True: T+ refused the second create and the client recognised the refusal as a duplicate ExternalCode. */
  recognised: boolean;
}

export async function storeTplusDuplicate(kv: KeyValueStore, finding: TplusDuplicateFinding, at: number): Promise<void> {
  await kv.put(TPLUS_DUPLICATE_KEY, JSON.stringify({ at, ...finding }));
}

/**
 * Why a T+ write left in doubt may be sent again (the probe saw a recognised duplicate refusal, and when), or
 * undefined when that is not known: no probe, a probe whose second create was accepted or not recognised, or an
 * unreadable record — then the write stays a `write_unknown` letter for the operator.
 */
export async function tplusResendProof(kv: KeyValueStore): Promise<string | undefined> {
  let stored: (Partial<TplusDuplicateFinding> & { at?: number }) | null = null;
  try {
    const raw = await kv.get(TPLUS_DUPLICATE_KEY);
    stored = raw ? JSON.parse(raw) : null;
  } catch {
    stored = null;
  }
  if (stored?.recognised !== true) return undefined;
  const at = typeof stored.at === "number" ? new Date(stored.at).toISOString() : "unknown time";
  return `doctor write probe ${at}: T+ refused a duplicate ExternalCode (${stored.code ?? "no code"})`;
}

/**
 * The run setting (engine/run.ts RunDeps.resendInDoubt) of a flow: T+ flows only, and only with the probe's proof.
 * Read when a write in doubt needs it, not on every run (no KV read otherwise).
 */
export function resendInDoubtFor(flow: { target: { type: string } }, kv: KeyValueStore): { resendInDoubt?: () => Promise<string | undefined> } {
  if (flow.target.type !== "tplus") return {};
  return { resendInDoubt: () => tplusResendProof(kv) };
}
