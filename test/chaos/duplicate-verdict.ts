/**
 * The pre-created T+ voucher (tplus.duplicate, run.ts precreateVoucher) when the bridge's write of its group met it with
 * other lines: page drift or a served edit changed a member before the bridge read it (seeds 9042, 9182 long), so the
 * bridge files a `conflict` letter and the target keeps the voucher entered by hand. Members edited or cancelled
 * since are corrected against what the letter holds (engine/outbox-writer.ts images a refused plan's members), so
 * the target must hold: the hand-entered lines + (the source now − the letter's lines). Web standards only (workerd).
 */
import type { DeadLetter } from "../../shared/state/records.ts";
import type { QtyBySku } from "../helpers/targets.ts";
import { type DocVersion, explainedByVersions } from "./edit-verdict.ts";

type Row = Record<string, unknown>;

function add(out: QtyBySku, lines: QtyBySku, sign: number) {
  for (const [sku, q] of Object.entries(lines)) out[sku] = Math.round(((out[sku] ?? 0) + sign * q) * 1e6) / 1e6;
}

/** A conflict letter as the verdict reads it: the lines its plan's parts hold, and each member's row as it was read. */
export interface ConflictLetter {
  lines: QtyBySku;
  members: Map<string, DocVersion>;
}

/** The first conflict letter of `key` (its plan's parts and member rows), or undefined when no such letter was filed. */
export function conflictLetter(letters: DeadLetter[], key: string): ConflictLetter | undefined {
  const letter = letters.filter((l) => l.externalKey === key && l.error?.code === "conflict").sort((a, b) => a.createdAt - b.createdAt)[0];
  const parts = (letter?.payload as { document?: { outbox?: { parts?: Array<{ payload?: Row }> } } } | undefined)?.document?.outbox?.parts;
  if (!letter || !parts) return undefined;
  const lines: QtyBySku = {};
  for (const p of parts)
    for (const d of (p.payload?.RDRecordDetails as Row[] | undefined) ?? []) add(lines, { [String((d.Inventory as Row).Code)]: Number(d.BaseQuantity) }, 1);
  const rows = (Array.isArray(letter.source) ? letter.source : [letter.source]) as Array<Row | undefined>;
  const members = new Map<string, DocVersion>();
  for (const r of rows) if (r?.io_id !== undefined) members.set(String(r.io_id), { status: r.status, items: r.items });
  return { lines, members };
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

/** A member of the group modified past the covered range now: every version it had, oldest first, the last as it is now. */
export interface RestampedMember {
  id: string;
  versions: DocVersion[];
}

export interface HandBookedGroup {
  /** The voucher entered by hand, as the target holds it. */
  hand: QtyBySku;
  letter: ConflictLetter;
  /** The group's Confirmed members modified inside the covered range, as they are now. */
  inRange: QtyBySku;
  restamped: RestampedMember[];
}

/** A version's lines (a Confirmed document's items by sku), undefined when it does not count (cancelled, absent). */
function linesOf(v: DocVersion): QtyBySku | undefined {
  if (v.status !== "Confirmed") return undefined;
  const out: QtyBySku = {};
  for (const i of v.items as Row[]) add(out, { [String(i.sku_id)]: Number(i.qty) }, 1);
  return out;
}

const same = (a: QtyBySku | undefined, b: QtyBySku | undefined) =>
  !!a && !!b && [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => Math.abs((a[k] ?? 0) - (b[k] ?? 0)) < 1e-9);

const ABSENT: DocVersion = { status: "absent", items: [] };

/**
 * The versions of a re-stamped member the target may count, the first being the one it counts when nothing was read
 * since the letter: the bridge read nothing of it after the re-stamp (it is read once a later day closes), so it is
 * counted as the letter holds it, or in a version edited after that which a run read (and corrected) before page drift
 * moved it; never in one from before the letter. A member the letter lacks was not read with it: absent, or a version
 * a later run read (a supplement).
 */
function candidates(m: RestampedMember, letter: ConflictLetter): DocVersion[] {
  const read = letter.members.get(m.id);
  if (!read) return [ABSENT, ...m.versions];
  const at = m.versions.map((v) => same(linesOf(v), linesOf(read)) && v.status === read.status).lastIndexOf(true);
  return [read, ...(at >= 0 ? m.versions.slice(at + 1) : m.versions)];
}

/**
 * Whether the target's sum `got` for the hand-booked group is what the bridge may leave, and the sum it leaves when
 * nothing was read since the letter. The source is the members modified inside the covered range as they are now plus
 * the members page drift re-stamped past it (seed 4254 long: a member read into the letter, then re-stamped unchanged,
 * is no change at all, so no correction; counting it as missing from the source expected one reversing it).
 */
export function judgeHandBooked(group: HandBookedGroup, got: QtyBySku): { ok: boolean; expected: QtyBySku } {
  const fixed = handBookedExpected(group.hand, group.letter.lines, group.inRange);
  const open = group.restamped.map((m) => candidates(m, group.letter));
  const expected = { ...fixed };
  for (const [first] of open) add(expected, (first && linesOf(first)) ?? {}, 1);
  for (const [k, v] of Object.entries(expected)) if (v === 0) delete expected[k];
  return { ok: explainedByVersions(fixed, open, got, linesOf, false), expected };
}
