/**
 * Where doctor keeps its last report, and how the engine uses what it learned: the KIS precheck mode.
 * Small on purpose: the runner and the Worker read it without pulling in the checks themselves.
 */
import type { KeyValueStore } from "../ports.ts";

export const DOCTOR_RESULT_KEY = "doctor/last";

/** What the write probe learned about KIS duplicates (the part of DoctorFindings the engine reads). */
export interface KisDuplicateFindings {
  kisDuplicateBillNo?: "refused" | "accepted";
  kisBillNoHonoured?: boolean;
}

/** The KIS precheck mode the probe supports: "after_unknown_outcome" only when KIS kept and enforced the FBillNo. */
export function kisPrecheckFromFindings(findings: KisDuplicateFindings | undefined): "always" | "after_unknown_outcome" {
  return findings?.kisDuplicateBillNo === "refused" && findings.kisBillNoHonoured === true ? "after_unknown_outcome" : "always";
}

export interface KisPrecheckChoice {
  mode: "always" | "after_unknown_outcome";
  /** Why: "env KIS_PRECHECK", "doctor write probe <ISO time>: …", or "default (…)". Shown in GET /flows. */
  source: string;
}

/**
 * The precheck the runner and replay use. KIS_PRECHECK (already validated by the caller) wins; otherwise the
 * stored doctor result: "after_unknown_outcome" only when its write probe saw KIS keep our FBillNo and refuse a
 * second bill with it; anything else (no probe, accepted, unknown, unreadable) is the safe "always".
 */
export async function chooseKisPrecheck(envMode: "always" | "after_unknown_outcome" | undefined, kv: KeyValueStore | undefined): Promise<KisPrecheckChoice> {
  if (envMode) return { mode: envMode, source: "env KIS_PRECHECK" };
  type Stored = { checkedAt?: number; findings?: KisDuplicateFindings };
  let stored: Stored | null = null;
  try {
    const raw = kv ? await kv.get(DOCTOR_RESULT_KEY) : null;
    stored = raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    stored = null;
  }
  const f = stored?.findings;
  if (!f?.kisDuplicateBillNo) return { mode: "always", source: "default (no doctor --write-probe result)" };
  const at = typeof stored?.checkedAt === "number" ? new Date(stored.checkedAt).toISOString() : "unknown time";
  const mode = kisPrecheckFromFindings(f);
  const what =
    f.kisDuplicateBillNo === "accepted"
      ? "KIS accepted a second bill with the same FBillNo"
      : f.kisBillNoHonoured
        ? "KIS kept the FBillNo and refused a duplicate"
        : "KIS refused a duplicate but replaced the FBillNo";
  return { mode, source: `doctor write probe ${at}: ${what}` };
}
