/**
 * The pure half of issue 16's chaos machinery (test/chaos/edits.ts drives; this judges): when a flow must run again
 * after an edit, which chaos classes the emulator's edits stand for, and which versions of an edited document a target
 * may hold. Web standards only, no stack: unit-tested in test/core/chaos-edits.test.ts.
 */
import type { EditRecord } from "../emulators/jushuitan/edits.ts";
import { CHAOS_FLOWS, type ChaosFlowId, JST_PATHS } from "./scenario.ts";

type Row = Record<string, unknown>;
export const PATH_OF: Record<ChaosFlowId, string> = { [CHAOS_FLOWS.kis]: JST_PATHS.otherInOut, [CHAOS_FLOWS.tplus]: JST_PATHS.salesOut };

/** A completed window of a flow's run, and when (host time) the invocation that first reported it started. */
export interface ReadWindow {
  from: number;
  to: number;
  tickAt: number;
  /** Host time when the driver saw the invocation that completed it return (after every query it made). */
  doneAt?: number;
}

/**
 * Whether `flow` must run again: some edit of its path has not been read yet, i.e. no window that owns its stamp
 * (second precision, [from, to): engine/window.ts ownsInstant) was read by an invocation that started after the edit.
 * "A run started after the edit" alone is not enough: a shared-cron tick may run late (scheduledTime up to 20 min
 * back) and read a window that ends before the stamp (seed 4245 long).
 * An edit made while a scan pages (via "query") is stamped in the window being read or a later one, so the invocation
 * that served it reads it when it completes that window: without this, an edit on the last second of a window no later
 * lookback reaches (a merged flow's first window, [yesterday − 1 h, today − 1 h)) kept the driver invoking the flow
 * until its tick limit (seeds 9052, 9068 long: 160 ticks, minutes per seed).
 */
export function needsAnotherRun(flow: ChaosFlowId, edits: EditRecord[], reads: readonly ReadWindow[]): boolean {
  return unreadEditsOf(flow, edits, reads).length > 0;
}

function unreadEditsOf(flow: ChaosFlowId, edits: EditRecord[], reads: readonly ReadWindow[]): EditRecord[] {
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;
  const after = (e: EditRecord, w: ReadWindow) => w.tickAt > e.madeAt || (e.via === "query" && (w.doneAt ?? 0) > e.madeAt);
  return edits.filter(
    (e) => e.path === PATH_OF[flow] && !reads.some((w) => after(e, w) && second(w.from) <= second(e.modifiedMs) && second(e.modifiedMs) < second(w.to)),
  );
}

/**
 * How long the driver sleeps before invoking flows that wait for unread edits: until the host time at which each
 * flow's read end passes the latest unread stamp (its latest read trailed the host by `tickAt − to`: end lag, source
 * clock, visibility lag), 1 s at least and 30 s at most. One second per round spent the tick limit while an edit
 * stamped at Jushuitan's clock waited minutes of real time (seeds 4288 and 9122 long on the final batch: 160 ticks).
 */
export function editWaitMs(flows: ChaosFlowId[], edits: EditRecord[], reads: Map<ChaosFlowId, ReadWindow[]>, now: number, minLagMs = 0): number {
  return Math.min(editReachMs(flows, edits, reads, now, minLagMs), 30_000);
}

/**
 * How long until the flows' reads can reach every unread edit (1 s at least, uncapped). The read end trails the host
 * by at least `minLagMs` (the flows' end lag, plus Jushuitan's clock when it runs behind): a shared-cron tick dated up
 * to 4 minutes ahead reads with less, and taking its lag made the driver give up while an edit stamped behind that
 * read's end waited for the clock (seeds 4264 and 4280 long, 2026-12-06: given up a minute before a run could read it).
 */
export function editReachMs(flows: ChaosFlowId[], edits: EditRecord[], reads: Map<ChaosFlowId, ReadWindow[]>, now: number, minLagMs = 0): number {
  let wait = 1000;
  for (const flow of flows) {
    const windows = reads.get(flow) ?? [];
    const unread = unreadEditsOf(flow, edits, windows);
    if (unread.length === 0 || windows.length === 0) continue;
    const last = windows.reduce((a, b) => (b.to > a.to ? b : a));
    const stamp = Math.max(...unread.map((e) => e.modifiedMs));
    wait = Math.max(wait, stamp + Math.max(last.tickAt - last.to, minLagMs) + 1000 - now);
  }
  return wait;
}

/** An invocation's record as the state keeps it (its own clock: start and finish are host time). */
export interface RecordedInvocation {
  runId: string;
  startedAt?: number;
  finishedAt?: number;
  windows?: ReadonlyArray<{ from: number; to: number; complete: boolean }>;
}

/**
 * The completed windows of the stored invocation records that the driver did not see when their tick returned (a
 * shared-cron tick's record looked up before it was visible, a continuing run's chain): `attributed` holds the
 * `runId|from|to` ids already counted and gains the new ones. Each read starts and ends when its invocation did.
 * Seed 9102 long (sharedCron, budget.tiny): without them an edit served mid-scan counted as never read, and the driver
 * invoked both flows until its 160-invocation limit.
 */
export function unseenReads(records: readonly RecordedInvocation[], attributed: Set<string>): ReadWindow[] {
  const out: ReadWindow[] = [];
  for (const r of records) {
    if (r.startedAt === undefined) continue;
    for (const w of r.windows ?? []) {
      const id = `${r.runId}|${w.from}|${w.to}`;
      if (!w.complete || attributed.has(id)) continue;
      attributed.add(id);
      out.push({ from: w.from, to: w.to, tickAt: r.startedAt, doneAt: r.finishedAt });
    }
  }
  return out;
}

/** Which unread edits the flows wait for, as one text: the same edits give the same text whatever was read since. */
export function unreadEditIds(flows: ChaosFlowId[], edits: EditRecord[], reads: Map<ChaosFlowId, ReadWindow[]>): string {
  return flows.flatMap((flow) => unreadEditsOf(flow, edits, reads.get(flow) ?? []).map((e) => `${flow}:${e.key}@${e.madeAt}`)).join(" ");
}

/** Why a flow did not settle when edits are the reason: each unread edit and the last windows the flow read. */
export function unreadEdits(flows: ChaosFlowId[], edits: EditRecord[], reads: Map<ChaosFlowId, ReadWindow[]>): string[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  return flows.flatMap((flow) => {
    const windows = reads.get(flow) ?? [];
    const owning = (e: EditRecord) => windows.filter((w) => w.from <= e.modifiedMs && e.modifiedMs < w.to);
    return unreadEditsOf(flow, edits, windows).map(
      (e) =>
        `${flow}: edit of ${e.key} (${e.change}, ${e.via}) stamped ${iso(e.modifiedMs)}, made ${iso(e.madeAt)}, ${e.servedAt ? `served ${iso(e.servedAt)}` : "not served"} since, no window read after; windows owning it: ${owning(
          e,
        )
          .map((w) => `[${iso(w.from)}, ${iso(w.to)}) at ${iso(w.tickAt)}–${w.doneAt ? iso(w.doneAt) : "?"}`)
          .join(" ")}; first and last windows: ${[...windows.slice(0, 4), ...windows.slice(-2)]
          .map((w) => `[${iso(w.from)}, ${iso(w.to)}) at ${iso(w.tickAt)}`)
          .join(" ")}`,
    );
  });
}

/** The chaos classes the edits made during scans stand for (the emulator's log of them). */
export function editClasses(edits: EditRecord[]): string[] {
  const out = new Set<string>();
  for (const e of edits) {
    if (e.via !== "query") continue;
    if (e.path === JST_PATHS.salesOut) out.add("jst.editSales");
    else if (e.change === "cancel") out.add("jst.cancelServed");
    else if (e.change === "quantity") out.add("jst.editQuantity");
    else if (e.change === "edit") out.add("jst.editServed");
    else out.add("jst.editLines");
  }
  return [...out];
}

/** A document's status and lines at one moment (its content at the start, or right after an edit). */
export interface DocVersion {
  status: unknown;
  items: unknown;
}

/** Every version each edited document had, oldest first: its content at the start, then after each edit. */
export function versionsOf(start: Map<string, Row>, edits: EditRecord[], path: string): Map<string, DocVersion[]> {
  const out = new Map<string, DocVersion[]>();
  for (const e of edits) {
    if (e.path !== path) continue;
    if (!out.has(e.key)) {
      const first = start.get(e.key);
      out.set(e.key, first ? [{ status: first.status, items: first.items }] : []);
    }
    out.get(e.key)!.push(e.after);
  }
  return out;
}

/**
 * Whether `got` is what the target may hold for a document or group some of whose documents were re-stamped past the
 * covered range after an edit (page drift moved them before a run read their last version: they are read after the
 * range, as every row modified past it). `fixed` is the sum of the members judged as they are now; each of the
 * `open` documents counts in any of its versions (or not at all, when `mayBeAbsent`). At most 256 combinations.
 */
export function explainedByVersions(
  fixed: Record<string, number>,
  open: DocVersion[][],
  got: Record<string, number>,
  counts: (v: DocVersion) => Record<string, number> | undefined,
  mayBeAbsent: boolean,
): boolean {
  let sums: Array<Record<string, number>> = [{ ...fixed }];
  for (const versions of open) {
    const next: Array<Record<string, number>> = [];
    for (const base of sums) {
      if (mayBeAbsent) next.push(base);
      for (const v of versions) {
        const add = counts(v);
        if (!add) {
          next.push(base);
          continue;
        }
        const sum = { ...base };
        for (const [sku, q] of Object.entries(add)) sum[sku] = Math.round(((sum[sku] ?? 0) + q) * 1e6) / 1e6;
        next.push(sum);
      }
    }
    sums = next.slice(0, 256);
  }
  const same = (a: Record<string, number>, b: Record<string, number>) =>
    [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => Math.abs((a[k] ?? 0) - (b[k] ?? 0)) < 1e-9);
  return sums.some((s) => same(s, got));
}

const modifiedMs = (doc: Row) => Date.parse(`${String(doc.modified).replace(" ", "T")}+08:00`);

/**
 * Whether a merged group's target sum `got` is explained when some of its members were re-stamped past the covered
 * range (`range.to`) after an edit: those are read when a later day closes, so the target may hold any of their
 * versions or none — and so may it hold an unedited member re-stamped past the range, as it is (quick seed 20261123:
 * an edited and an unedited member re-stamped together); the members modified inside the range count as they are now.
 */
export function restampedGroupExplained(
  members: Row[],
  versions: Map<string, DocVersion[]>,
  range: { from: number; to: number },
  got: Record<string, number>,
  counts: (v: DocVersion) => Record<string, number> | undefined,
): boolean {
  const open = members.filter((d) => modifiedMs(d) >= range.to);
  if (!open.some((d) => versions.has(String(d.io_id)))) return false;
  const fixed: Record<string, number> = {};
  for (const d of members) {
    if (open.includes(d) || d.status !== "Confirmed" || modifiedMs(d) < range.from || modifiedMs(d) >= range.to) continue;
    for (const [sku, q] of Object.entries(counts({ status: d.status, items: d.items }) ?? {})) fixed[sku] = (fixed[sku] ?? 0) + q;
  }
  return explainedByVersions(
    fixed,
    // an unedited member re-stamped past the range (page drift) counts as it is, or not yet
    open.map((d) => versions.get(String(d.io_id)) ?? [{ status: d.status, items: d.items }]),
    got,
    counts,
    true,
  );
}
