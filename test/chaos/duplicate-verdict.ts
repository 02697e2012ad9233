/**
 * The pre-created T+ voucher (tplus.duplicate, run.ts precreateVoucher) when the bridge's write of its group met it with
 * other lines: page drift or a served edit changed a member before the bridge read it (seeds 9042, 9182 long), so the
 * bridge files a `conflict` letter and the target keeps the voucher entered by hand. Members edited or cancelled
 * since are corrected against what the letter holds (engine/outbox-writer.ts images a refused plan's members), so
 * the target must hold: the hand-entered lines + (the source now − the letter's lines). Web standards only (workerd).
 */
import type { DeadLetter } from "../../shared/state/records.ts";
import type { QtyBySku } from "../helpers/targets.ts";

type Row = Record<string, unknown>;

function add(out: QtyBySku, lines: QtyBySku, sign: number) {
  for (const [sku, q] of Object.entries(lines)) out[sku] = Math.round(((out[sku] ?? 0) + sign * q) * 1e6) / 1e6;
}

/** The lines a conflict letter of `key` holds (its plan's parts), or undefined when no such letter was filed. */
export function conflictLetterLines(letters: DeadLetter[], key: string): QtyBySku | undefined {
  const letter = letters.filter((l) => l.externalKey === key && l.error?.code === "conflict").sort((a, b) => a.createdAt - b.createdAt)[0];
  const parts = (letter?.payload as { document?: { outbox?: { parts?: Array<{ payload?: Row }> } } } | undefined)?.document?.outbox?.parts;
  if (!parts) return undefined;
  const out: QtyBySku = {};
  for (const p of parts)
    for (const d of (p.payload?.RDRecordDetails as Row[] | undefined) ?? []) add(out, { [String((d.Inventory as Row).Code)]: Number(d.BaseQuantity) }, 1);
  return out;
}

/** What the target must hold for the group: the hand-entered voucher plus the corrections written against the letter. */
export function handBookedExpected(handEntered: QtyBySku, letter: QtyBySku, source: QtyBySku): QtyBySku {
  const out: QtyBySku = {};
  add(out, handEntered, 1);
  add(out, source, 1);
  add(out, letter, -1);
  for (const [k, v] of Object.entries(out)) if (v === 0) delete out[k];
  return out;
}
