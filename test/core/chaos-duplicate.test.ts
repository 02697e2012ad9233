/** The chaos verdict for the voucher entered by hand before the bridge ran (test/chaos/duplicate-verdict.ts). */
import { describe, expect, it } from "vitest";
import type { DeadLetter } from "../../shared/state/records.ts";
import { type ConflictLetter, conflictLetter, judgeHandBooked } from "../chaos/duplicate-verdict.ts";
import type { DocVersion } from "../chaos/edit-verdict.ts";

type Lines = Record<string, number>;
const doc = (lines: Lines, status = "Confirmed"): DocVersion => ({ status, items: Object.entries(lines).map(([sku_id, qty]) => ({ sku_id, qty })) });
const sum = (...all: Lines[]) => {
  const out: Lines = {};
  for (const l of all) for (const [k, v] of Object.entries(l)) out[k] = (out[k] ?? 0) + v;
  return out;
};

// Seed 4254 long (SO-2026-12-05-10818): three members; B gained a line while the scan paged (jst.editSales, re-stamped
// to the window's last second and read again at its end), so the bridge's group differs from the hand voucher by that
// line: a conflict letter holding A + B' + C. Page drift then re-stamped B past the covered range, unchanged.
const A = { "BXW40-23": 2, "WY200-42": 2 };
const B = { "MZ500-32": 2, "WY200-33": 1, "BXW40-21": 1 };
const B2 = { ...B, "BB600-12": 3 };
const C = { "BB600-22": 1, "TX100-42": 4, "WY200-13": 2 };
const hand = sum(A, B, C);
const letter: ConflictLetter = {
  lines: sum(A, B2, C),
  members: new Map([
    ["1", doc(A)],
    ["2", doc(B2)],
    ["3", doc(C)],
  ]),
};

describe("chaos verdict: the voucher entered by hand", () => {
  it("a member page drift re-stamped past the covered range after the letter read it counts as the letter holds it (seed 4254 long)", () => {
    const verdict = judgeHandBooked({ hand, letter, inRange: sum(A, C), restamped: [{ id: "2", versions: [doc(B), doc(B2)] }] }, hand);
    expect(verdict.expected).toEqual(hand);
    expect(verdict.ok).toBe(true);
  });

  it("such a member edited after the letter: the target holds its correction, or not yet (read once a later day closes)", () => {
    const B3 = { ...B2, "BB600-12": 1 };
    const group = { hand, letter, inRange: sum(A, C), restamped: [{ id: "2", versions: [doc(B), doc(B2), doc(B3)] }] };
    expect(judgeHandBooked(group, hand).ok).toBe(true);
    expect(judgeHandBooked(group, sum(hand, { "BB600-12": -2 })).ok).toBe(true);
    // its version from before the letter was never read after it: no correction back to it
    expect(judgeHandBooked(group, sum(hand, { "BB600-12": -3 })).ok).toBe(false);
  });

  it("a re-stamped member the letter does not hold counts as absent or in any of its versions (a supplement)", () => {
    const D = { "TX100-21": 3 };
    const group = { hand, letter, inRange: sum(A, B2, C), restamped: [{ id: "4", versions: [doc(D)] }] };
    expect(judgeHandBooked(group, hand).ok).toBe(true);
    expect(judgeHandBooked(group, sum(hand, D)).ok).toBe(true);
    expect(judgeHandBooked(group, sum(hand, { "TX100-21": 1 })).ok).toBe(false);
  });

  it("members inside the covered range count as they are now: one cancelled since the letter is corrected away", () => {
    const group = { hand, letter, inRange: sum(A, B2), restamped: [] };
    expect(judgeHandBooked(group, sum(hand, { "BB600-22": -1, "TX100-42": -4, "WY200-13": -2 }))).toEqual({ ok: true, expected: sum(A, B) });
    expect(judgeHandBooked(group, hand).ok).toBe(false);
  });

  it("reads the first conflict letter's parts and member rows", () => {
    const row = (io_id: number, lines: Lines) => ({ io_id, ...doc(lines) });
    const part = (lines: Lines) => ({
      payload: { RDRecordDetails: Object.entries(lines).map(([Code, BaseQuantity]) => ({ Inventory: { Code }, BaseQuantity })) },
    });
    const filed = {
      externalKey: "SO-2026-12-05-10818",
      error: { code: "conflict", message: "" },
      createdAt: 1,
      source: [row(1, A), row(2, B2)],
      payload: { document: { outbox: { parts: [part(A), part(B2)] } } },
    } as unknown as DeadLetter;
    const read = conflictLetter([filed], "SO-2026-12-05-10818");
    expect(read?.lines).toEqual(sum(A, B2));
    expect([...(read?.members.entries() ?? [])]).toEqual([
      ["1", doc(A)],
      ["2", doc(B2)],
    ]);
    expect(conflictLetter([filed], "SO-2026-12-05-10817")).toBeUndefined();
  });
});
