/**
 * shared/engine/outbox-writer.ts at unit level (issue 18 item 6): settleThroughOutbox over the OutboxContext run.ts
 * builds (openOutbox), with the product's state parts: the real RunLedger over a real FlowStateStore ledger (memory KV)
 * for ledgerGet / remember / writtenGroup / settled plans, the real PoisonBook on that ledger, and the real OutboxStore
 * on the same KV (plans an earlier invocation stored are seeded there and listed back, as openOutbox lists them).
 * The paths the engine tests rarely or never reach: a plan lost with its parts in the ledger (lostPlan), parts written
 * before the outbox, a part dead-lettered as poison while its plan was open, a started plan whose group no longer
 * builds, the rows a set-aside part carries, a refused remainder's letter, a flow without a change writer.
 *
 * Test doubles, and why they cannot be real here:
 *  - target: the network boundary; readBack answers from a table (the other-split probe), write is never called.
 *  - writeOne: the boundary where a part leaves for the target. The real one (document-writer.ts writeOne) needs a
 *    whole FlowRun (openFlowRun: source, builder, target client, lease, write marker, pending writes); that path is
 *    driven end to end through the emulators by engine-e2e and adv16d-lost-plan-* tests. Here its answer (written /
 *    set aside / refused) is chosen per part, so each branch of writePlan is reached deterministically.
 *  - changeWriter: a recording double of the three calls the outbox writer makes (Pick<ChangeWriter, ...>, the type
 *    OutboxContext asks for, so no cast). The real createChangeWriter needs a ChangeBook over a flow's target shape
 *    and a builder producing real target payloads; these tests' parts are synthetic documents, so it would have to
 *    invent that shape anyway. What is asserted is the outbox writer's contract with it (which members it plans,
 *    which parts it images with which planned lines, which plan it reviews); the change writer itself is covered by
 *    changes-resumed-plan, changes-conflict-group and adv16d-lost-plan-images through the real engine.
 *  - deadLetter: recorded as handed over. The real fileDeadLetter also needs a FlowRun (counts, markers, logger); its
 *    dedupe is covered by the engine tests.
 * The clock is fixed.
 */
import { describe, expect, it } from "vitest";
import type { ReadBack } from "../../shared/connectors/content-lines.ts";
import type { TargetConnector, TargetWriteResult } from "../../shared/connectors/target.ts";
import { contentHash } from "../../shared/engine/hash.ts";
import { attemptLedgerKey, PoisonBook } from "../../shared/engine/poison.ts";
import { type OutboxContext, type OutboxRun, settleThroughOutbox } from "../../shared/engine/outbox-writer.ts";
import { RunLedger } from "../../shared/engine/run-ledger.ts";
import type { BuiltDocument, SourceRow } from "../../shared/engine/types.ts";
import { BridgeError } from "../../shared/errors.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";
import { type OutboxPlan, OutboxStore } from "../../shared/state/outbox-store.ts";
import type { LedgerEntry } from "../../shared/state/records.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";

const NOW = 1_700_000_000_000;
const FLOW = "jst-sales-out-to-tplus";
type Outcome = { targetId?: string; targetCode?: string } | undefined | "aside" | BridgeError;

interface Options {
  /** writeOne's answer per external key (default: written, the target's id `T-<key>`). */
  outcome?: Record<string, Outcome>;
  /** Without: a flow without `changes` (no change writer). */
  changes?: boolean;
  /** readBack's answer per key (the other-split probe). */
  readBack?: Record<string, ReadBack>;
  /** Plans an earlier invocation stored (in the real outbox store, listed back as openOutbox does). */
  plans?: OutboxPlan[];
  /** Entries earlier runs saved (appended to the real flow ledger, read through the run's RunLedger). */
  ledger?: LedgerEntry[];
}

async function harness(o: Options = {}) {
  const kv = new MemoryKeyValueStore({ now: () => NOW });
  // A fixed clock, no write spacing: nothing here depends on the time of day.
  const state = new FlowStateStore(kv, { clock: { now: () => NOW, sleep: async () => {} }, writeIntervalMs: 0 });
  const store = new OutboxStore(kv);
  if (o.ledger?.length) await state.ledgerAppend(FLOW, o.ledger);
  for (const p of o.plans ?? []) await store.put(FLOW, p);
  const ledger = new RunLedger();
  ledger.view = await state.ledgerView(FLOW);
  const log = {
    events: [] as string[],
    letters: [] as Array<{ sourceId: string; source: unknown; error: unknown; extra: unknown }>,
    writes: [] as Array<{ key: string; rows: SourceRow[]; status: string }>,
    stored: [] as OutboxPlan[],
    readBacks: [] as string[],
    planImages: [] as string[][],
    imagesOf: [] as Array<{ key: string; groupKey: string | undefined; planned: unknown }>,
    reviews: [] as Array<{ groupKey: string; members: string[]; planned: unknown }>,
  };
  const target: TargetConnector = {
    system: "tplus",
    write: () => Promise.reject(new Error("the outbox writes through writeOne")),
    readBack: async (doc) => {
      log.readBacks.push(doc.externalKey);
      return o.readBack?.[doc.externalKey] ?? null;
    },
  };
  const changeWriter: OutboxContext["changeWriter"] = {
    planImages(members, rows) {
      log.planImages.push(members);
      return Object.fromEntries(members.filter((m) => rows.has(m)).map((m) => [m, [[`item-${m}`, 1]]]));
    },
    imagesOf(doc, _rows, planned) {
      log.imagesOf.push({ key: doc.externalKey, groupKey: doc.groupKey, planned });
    },
    async reviewPlanMembers(groupKey, members, _rows, planned) {
      log.reviews.push({ groupKey, members, planned });
    },
  };
  const ctx: OutboxContext = {
    flowId: FLOW,
    runId: "run-1",
    target,
    targetOperation: "otherDispatch",
    outbox: {
      list: (flow) => store.list(flow),
      // Settled plans are deleted by the run's flushState (ledger.settledPlans), never by the writer.
      delete: () => Promise.reject(new Error("the outbox writer does not delete plans")),
      put: async (flow, plan) => {
        log.events.push(`put ${plan.unit}`);
        await store.put(flow, plan);
        log.stored.push(structuredClone(plan));
      },
    },
    now: () => NOW,
    poison: new PoisonBook((key) => ledger.get(key), 3),
    changeWriter: o.changes === false ? undefined : changeWriter,
    // As run.ts openOutbox wires them.
    ledgerGet: (key) => ledger.get(key),
    remember: (entry) => ledger.remember(entry),
    writtenGroup: (groupKey) => ledger.writtenGroup(groupKey),
    deadLetter: (sourceId, source, error, extra) => log.letters.push({ sourceId, source, error, extra }),
    writeOne: async (doc, rows, status, onSettled, onRefused) => {
      log.events.push(`write ${doc.externalKey}`);
      log.writes.push({ key: doc.externalKey, rows, status });
      const answer = o.outcome && doc.externalKey in o.outcome ? o.outcome[doc.externalKey] : { targetId: `T-${doc.externalKey}` };
      if (answer === "aside") return;
      if (answer instanceof BridgeError) onRefused?.(answer);
      else onSettled(answer as TargetWriteResult | undefined);
    },
    settled: (unit) => ledger.settledPlans.push(unit),
  };
  // The plans as openOutbox reads them: listed from the store.
  const w: OutboxRun = { ctx, plans: new Map((await ctx.outbox.list(FLOW)).map((p) => [p.groupKey, p])), late: false };
  return { w, ledger, log: Object.assign(log, { settled: ledger.settledPlans }), store };
}

const row = (id: string): SourceRow => ({ io_id: id, qty: 1 }) as unknown as SourceRow;
const rowsOf = (...ids: string[]) => new Map(ids.map((id) => [id, row(id)]));
const hashOf = (key: string, v = 1) => `h-${key}-v${v}`;
function part(key: string, members: string[], groupKey: string, supplement?: number, v = 1): BuiltDocument {
  return {
    externalKey: key,
    payload: { key, members, v },
    members,
    contentHash: hashOf(key, v),
    groupKey,
    ...(supplement === undefined ? {} : { supplement }),
  };
}
const stored = (d: BuiltDocument) => ({ externalKey: d.externalKey, payload: d.payload, members: d.members, contentHash: d.contentHash });
const written = (key: string, v = 1, members?: string[]): LedgerEntry => ({
  externalKey: key,
  contentHash: hashOf(key, v),
  ...(members ? { members } : {}),
  writtenAt: NOW - 1000,
  runId: "run-0",
});
const registry = (groupKey: string, members: string[], supplements: number): LedgerEntry => ({
  externalKey: `group:${groupKey}`,
  contentHash: "group",
  members,
  supplements,
  writtenAt: NOW - 1000,
  runId: "run-0",
});
/** A plan an earlier invocation stored (and started). */
function planOf(groupKey: string, parts: BuiltDocument[], supplement = 0, images?: OutboxPlan["images"]): OutboxPlan {
  return {
    v: 1,
    unit: `${groupKey}#S${supplement}`,
    groupKey,
    supplement,
    parts: parts.map(stored),
    members: [...new Set(parts.flatMap((p) => p.members))],
    planHash: "earlier",
    runId: "run-0",
    createdAt: NOW - 5000,
    ...(images ? { images } : {}),
  };
}

describe("outbox writer: new plans", () => {
  it("a document outside any group is left for the ordinary path; a group is planned, stored, then written", async () => {
    const { w, ledger, log, store } = await harness();
    const plain: BuiltDocument = { externalKey: "OI-1", payload: {}, members: ["x"], contentHash: "hx" };
    const p1 = part("G-1", ["a", "b"], "G");
    const p2 = part("G-2", ["b", "c"], "G");
    const rows = rowsOf("a", "b", "c", "x");
    expect(await settleThroughOutbox(w, [plain, p1, p2], rows)).toEqual([plain]);
    // Stored before the first part, with the hash over keys and content hashes and every member's planned lines.
    expect(log.events).toEqual(["put G#S0", "write G-1", "write G-2"]);
    expect(log.stored).toEqual([
      {
        v: 1,
        unit: "G#S0",
        groupKey: "G",
        supplement: 0,
        parts: [stored(p1), stored(p2)],
        members: ["a", "b", "c"],
        planHash: contentHash([
          ["G-1", hashOf("G-1")],
          ["G-2", hashOf("G-2")],
        ]),
        runId: "run-1",
        createdAt: NOW,
        images: { a: [["item-a", 1]], b: [["item-b", 1]], c: [["item-c", 1]] },
      },
    ]);
    expect(log.stored[0]!.planHash).not.toBe(contentHash([]));
    // Put in the real outbox store; still there once settled (the run's flushState deletes it with the ledger saved).
    expect(await store.list("jst-sales-out-to-tplus")).toEqual(log.stored);
    expect(log.planImages).toEqual([["a", "b", "b", "c"]]);
    // A new original group: its key under the other maxLines split (G for parts G-1, G-2) is probed first.
    expect(log.readBacks).toEqual(["G"]);
    expect(log.writes.map((x) => [x.key, x.status])).toEqual([
      ["G-1", "new"],
      ["G-2", "new"],
    ]);
    expect(ledger.get("G-1")).toEqual({
      externalKey: "G-1",
      contentHash: hashOf("G-1"),
      targetId: "T-G-1",
      members: ["a", "b"],
      writtenAt: NOW,
      runId: "run-1",
    });
    expect(ledger.get("group:G")).toEqual({
      externalKey: "group:G",
      contentHash: "group",
      members: ["a", "b", "c"],
      supplements: 0,
      writtenAt: NOW,
      runId: "run-1",
    });
    expect(log.settled).toEqual(["G#S0"]);
    expect(w.plans.has("G")).toBe(false); // closed: a group built again later in this run is planned afresh
    // Images of the parts written, with the plan's planned lines; a new plan is not reviewed (nothing read again).
    expect(log.imagesOf.map((x) => [x.key, x.groupKey])).toEqual([
      ["G-1", "G"],
      ["G-2", "G"],
    ]);
    expect(log.imagesOf[0]!.planned).toEqual(log.stored[0]!.images);
    expect(log.reviews).toEqual([]);
    expect(log.letters).toEqual([]);
    expect(w.late).toBe(false);
  });

  it("a supplement is its own unit, written as a supplement, and its other split is not probed", async () => {
    const { w, ledger, log } = await harness({ ledger: [registry("G", ["a"], 1)] });
    const s = part("G-S2", ["d"], "G", 2);
    expect(await settleThroughOutbox(w, [s], rowsOf("d"))).toEqual([]);
    expect(log.stored.map((p) => [p.unit, p.supplement])).toEqual([["G#S2", 2]]);
    expect(log.writes.map((x) => [x.key, x.status])).toEqual([["G-S2", "supplement"]]);
    expect(log.readBacks).toEqual([]);
    expect(log.settled).toEqual(["G#S2"]);
    expect(ledger.get("group:G")).toMatchObject({ members: ["a", "d"], supplements: 2 });
  });

  it("a supplement of a group whose registry is gone is not probed either", async () => {
    const { w, log } = await harness();
    await settleThroughOutbox(w, [part("G-S1", ["d"], "G", 1)], rowsOf("d"));
    expect(log.readBacks).toEqual([]);
    expect(log.writes.map((x) => x.key)).toEqual(["G-S1"]);
  });

  it("an original group already in the registry is not probed under the other split", async () => {
    const { w, ledger, log } = await harness({ ledger: [registry("G", ["x"], 0)] });
    await settleThroughOutbox(w, [part("G", ["a"], "G")], rowsOf("a"));
    expect(log.readBacks).toEqual([]);
    expect(ledger.get("group:G")).toMatchObject({ members: ["x", "a"], supplements: 0 });
  });

  it("a part's ledger entry keeps the target's id, else its code, else none", async () => {
    const { w, ledger } = await harness({ outcome: { A: { targetId: "T1", targetCode: "C1" }, B: { targetCode: "C2" }, C: undefined } });
    await settleThroughOutbox(w, [part("A", ["a"], "GA"), part("B", ["b"], "GB"), part("C", ["c"], "GC")], rowsOf("a", "b", "c"));
    expect([ledger.get("A")?.targetId, ledger.get("B")?.targetId, ledger.get("C")?.targetId]).toEqual(["T1", "C2", undefined]);
    expect(ledger.get("C")).toMatchObject({ externalKey: "C", members: ["c"] });
  });

  it("a new plan whose first part is set aside stays open in the run's plans", async () => {
    const { w, ledger, log } = await harness({ outcome: { "G-1": "aside" } });
    await settleThroughOutbox(w, [part("G-1", ["a"], "G"), part("G-2", ["b"], "G")], rowsOf("a", "b"));
    expect(log.writes.map((x) => x.key)).toEqual(["G-1"]);
    expect(w.plans.get("G")).toEqual(log.stored[0]);
    expect(log.settled).toEqual([]);
    expect(ledger.get("group:G")).toBeUndefined();
    expect(log.imagesOf).toEqual([]);
  });

  it("a group whose key is taken under the other split is one conflict letter with its members' rows, settled in the registry", async () => {
    const back: ReadBack = { targetId: "T9", ours: [{ item: "I1", qty: 2 }], theirs: [{ item: "I1", qty: 1 }] };
    const { w, ledger, log } = await harness({ readBack: { "G-1": back } });
    const g = part("G", ["a", "b"], "G");
    expect(await settleThroughOutbox(w, [g], rowsOf("a"))).toEqual([]);
    expect(log.readBacks).toEqual(["G-1"]);
    expect(log.stored).toEqual([]);
    expect(log.writes).toEqual([]);
    expect(log.letters).toHaveLength(1);
    const letter = log.letters[0]!;
    expect(letter.sourceId).toBe("a");
    expect(letter.source).toEqual([row("a")]); // b has no row in this build: no `undefined` in the letter
    expect(letter.error).toMatchObject({ code: "conflict", sides: { externalKey: "G-1", targetId: "T9" } });
    expect(letter.extra).toEqual({ externalKey: "G", payload: { outbox: { unit: "G#S0", parts: [stored(g)] } } });
    expect(log.imagesOf.map((x) => x.key)).toEqual(["G"]);
    expect(ledger.get("group:G")).toEqual({
      externalKey: "group:G",
      contentHash: "group",
      members: ["a", "b"],
      supplements: 0,
      writtenAt: NOW,
      runId: "run-1",
    });
  });
});

describe("outbox writer: started plans", () => {
  it("a started plan read again is written as stored and reviewed once closed; members it holds do not make the run late", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b"], "G");
    const images = { a: [["item-a", 5]] as [string, number][] };
    const plan = planOf("G", [p1, p2], 0, images);
    const { w, log } = await harness({ plans: [plan] });
    // The rebuild differs (another line split, new content): the stored plan is what is written.
    const rebuilt = part("G-1", ["a", "b"], "G", undefined, 2);
    const fresh = part("H", ["h"], "H");
    await settleThroughOutbox(w, [rebuilt, fresh], rowsOf("a", "b", "h"));
    expect(w.late).toBe(false);
    expect(log.stored.map((p) => p.unit)).toEqual(["H#S0"]);
    expect(log.writes.map((x) => x.key)).toEqual(["G-1", "G-2", "H"]);
    expect(log.settled).toEqual(["G#S0", "H#S0"]);
    expect(log.reviews).toEqual([{ groupKey: "G", members: ["a", "b"], planned: images }]);
  });

  it("a started plan read again with a member it does not hold makes the run late (a supplement next run)", async () => {
    const plan = planOf("G", [part("G", ["a"], "G")]);
    const { w, log } = await harness({ plans: [plan] });
    await settleThroughOutbox(w, [part("G", ["a", "z"], "G", undefined, 2)], rowsOf("a", "z"));
    expect(w.late).toBe(true);
    expect(log.writes.map((x) => x.key)).toEqual(["G"]);
  });

  it("a started plan set aside again is not reviewed; the write carries the rows of the unwritten parts from it on", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b"], "G");
    const p3 = part("G-3", ["c", "d"], "G");
    const plan = planOf("G", [p1, p2, p3]);
    // G-2 is in the ledger already (a letter's replay wrote it): its member's row is not the set-aside part's.
    const { w, log } = await harness({ plans: [plan], outcome: { "G-1": "aside" }, ledger: [written("G-2")] });
    const open = w.plans.get("G");
    expect(open).toEqual(plan);
    await settleThroughOutbox(w, [part("G-1", ["a"], "G")], rowsOf("a", "b", "c"));
    expect(log.writes).toEqual([{ key: "G-1", rows: [row("a"), row("c")], status: "new" }]);
    expect(w.plans.get("G")).toBe(open);
    expect(log.settled).toEqual([]);
    expect(log.reviews).toEqual([]);
    expect(log.imagesOf).toEqual([]);
  });

  it("a started plan whose group no longer builds is finished when a member was read again, left alone when none was", async () => {
    const g = planOf("G", [part("G", ["a", "b"], "G")]);
    const h = planOf("H", [part("H", ["c"], "H")]);
    const { w, log } = await harness({ plans: [g, h] });
    // a was read again (cancelled: no document); b and c were not read. K is a new group: its own plan, not H's.
    expect(await settleThroughOutbox(w, [part("K", ["k"], "K")], rowsOf("a", "k"))).toEqual([]);
    expect(log.writes.map((x) => x.key)).toEqual(["K", "G"]);
    expect(log.settled).toEqual(["K#S0", "G#S0"]);
    expect(log.reviews.map((r) => r.groupKey)).toEqual(["G"]);
    expect(w.plans.has("H")).toBe(true);
  });

  it("a flow without a change writer finishes a resumed plan, letters a conflict and a refused remainder", async () => {
    const back: ReadBack = { ours: [{ item: "I1", qty: 1 }], theirs: [{ item: "I2", qty: 1 }] };
    const refusal = new BridgeError("tplus_business_error", "item I3 unknown");
    const { w, ledger, log } = await harness({
      changes: false,
      plans: [planOf("G", [part("G", ["a"], "G")])],
      readBack: { "H-1": back },
      outcome: { K: refusal },
    });
    await settleThroughOutbox(w, [part("G", ["a"], "G"), part("H", ["h"], "H"), part("K", ["k"], "K")], rowsOf("a", "h", "k"));
    expect(log.writes.map((x) => x.key)).toEqual(["G", "K"]);
    expect(log.letters.map((l) => [l.sourceId, (l.error as BridgeError).code])).toEqual([
      ["h", "conflict"],
      ["k", "tplus_business_error"],
    ]);
    expect(log.settled).toEqual(["G#S0", "K#S0"]);
    expect(ledger.get("group:H")).toMatchObject({ members: ["h"] });
  });
});

describe("outbox writer: refused and poisoned parts", () => {
  it("a refused part and the later parts not written are one letter with their members' rows; every part gets its image", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b", "c"], "G");
    const p3 = part("G-3", ["d"], "G");
    const p4 = part("G-4", ["e"], "G");
    const refusal = new BridgeError("tplus_business_error", "warehouse closed");
    const { w, ledger, log } = await harness({ outcome: { "G-2": refusal }, ledger: [written("G-3")], plans: [planOf("G", [p1, p2, p3, p4])] });
    await settleThroughOutbox(w, [], rowsOf("a", "b", "d", "e"));
    expect(log.writes.map((x) => x.key)).toEqual(["G-1", "G-2"]);
    expect(log.letters).toEqual([
      {
        sourceId: "b",
        source: [row("b"), row("e")],
        error: refusal,
        extra: { externalKey: "G-2", payload: { outbox: { unit: "G#S0", parts: [stored(p2), stored(p4)] } } },
      },
    ]);
    // The letter holds the refused parts' lines: their members are imaged as the letter will book them.
    expect(log.imagesOf.map((x) => x.key)).toEqual(["G-1", "G-2", "G-3", "G-4"]);
    expect(ledger.get("group:G")).toMatchObject({ members: ["a", "b", "c", "d", "e"] });
    expect(log.settled).toEqual(["G#S0"]);
  });

  it("a part dead-lettered as poison while its plan was open: nothing is written, the parts after it are one letter", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b"], "G");
    const p3 = part("G-3", ["c"], "G");
    const poison: LedgerEntry[] = [
      { externalKey: attemptLedgerKey("G-1"), contentHash: hashOf("G-1"), attempts: 3, writtenAt: NOW - 2000, runId: "run-0" },
      { externalKey: "dead:G-1", contentHash: hashOf("G-1"), writtenAt: NOW - 1000, runId: "run-0" },
    ];
    const { w, ledger, log } = await harness({ plans: [planOf("G", [p1, p2, p3])], ledger: poison });
    await settleThroughOutbox(w, [p1], rowsOf("a", "b", "c"));
    expect(log.writes).toEqual([]);
    expect(log.letters).toHaveLength(1);
    const letter = log.letters[0]!;
    expect(letter.sourceId).toBe("b");
    expect(letter.source).toEqual([row("b"), row("c")]);
    expect(letter.error).toMatchObject({
      code: "write_failed_repeatedly",
      message: "G-1: the target failed this document in 3 runs (last: write_failed: dead-lettered earlier)",
    });
    expect(letter.extra).toEqual({ externalKey: "G-2", payload: { outbox: { unit: "G#S0", parts: [stored(p2), stored(p3)] } } });
    expect(ledger.get("group:G")).toMatchObject({ members: ["a", "b", "c"] });
    expect(log.settled).toEqual(["G#S0"]);
  });

  it("a plan whose last part was dead-lettered as poison closes without another letter", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b"], "G");
    const poison: LedgerEntry[] = [
      written("G-1"),
      { externalKey: attemptLedgerKey("G-2"), contentHash: hashOf("G-2"), attempts: 3, writtenAt: NOW - 2000, runId: "run-0" },
      { externalKey: "dead:G-2", contentHash: hashOf("G-2"), writtenAt: NOW - 1000, runId: "run-0" },
    ];
    const { w, log } = await harness({ plans: [planOf("G", [p1, p2])], ledger: poison });
    await settleThroughOutbox(w, [p1], rowsOf("a", "b"));
    expect(log.writes).toEqual([]);
    expect(log.letters).toEqual([]);
    expect(log.settled).toEqual(["G#S0"]);
  });
});

describe("outbox writer: parts in the ledger without a plan", () => {
  it("parts all written before the outbox, rebuilt as written: the ordinary path decides", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b"], "G");
    const { w, log } = await harness({ ledger: [written("G-1"), written("G-2")] });
    expect(await settleThroughOutbox(w, [p1, p2], rowsOf("a", "b"))).toEqual([p1, p2]);
    expect(log.stored).toEqual([]);
    expect(log.writes).toEqual([]);
    expect(log.letters).toEqual([]);
    expect(log.readBacks).toEqual([]);
  });

  it("some parts written as rebuilt, the others not (a plan lost between parts): planned again, no probe, closed once all are written", async () => {
    // adv16d-lost-plan-stops: finished part by part outside the outbox, a stop between parts left a member of a
    // written part registered with lines in one not written yet (never booked).
    const p1 = part("G-1", ["a", "b"], "G");
    const p2 = part("G-2", ["b"], "G");
    const { w, ledger, log } = await harness({ ledger: [written("G-1")] });
    expect(await settleThroughOutbox(w, [p1, p2], rowsOf("a", "b"))).toEqual([]);
    expect(log.readBacks).toEqual([]); // its keys are this split's: no other split to probe
    expect(log.events).toEqual(["put G#S0", "write G-2"]);
    expect(log.letters).toEqual([]);
    expect(ledger.get("group:G")).toMatchObject({ members: ["a", "b"], supplements: 0 });
    expect(log.settled).toEqual(["G#S0"]);
    expect(log.imagesOf.map((i) => i.key)).toEqual(["G-1", "G-2"]);
  });

  it("a lost plan whose rebuild no longer matches a written part: one letter with the parts not written as rebuilt", async () => {
    const p1 = part("G-1", ["a"], "G");
    const p2 = part("G-2", ["b", "c"], "G", undefined, 2); // the ledger holds G-2's first content
    const p3 = part("G-3", ["c", "d"], "G");
    const { w, ledger, log } = await harness({ ledger: [written("G-1"), written("G-2", 1), registry("G", ["x"], 2)] });
    expect(await settleThroughOutbox(w, [p1, p2, p3], rowsOf("a", "b", "d"))).toEqual([]);
    expect(log.writes).toEqual([]);
    expect(log.stored).toEqual([]);
    expect(log.letters).toHaveLength(1);
    const letter = log.letters[0]!;
    expect(letter.sourceId).toBe("a");
    expect(letter.source).toEqual([row("a"), row("b"), row("d")]);
    expect(letter.error).toBeInstanceOf(BridgeError);
    expect(letter.error).toMatchObject({
      code: "changed_after_write",
      message:
        "merged document G-2 is in the target with other content than its group rebuilds to (the group's stored plan is gone); no further part of G#S0 is written",
      hint: "compare the target's document with this letter's parts, post the missing lines by hand (or void the target's documents and replay this letter), then resolve it",
    });
    expect(letter.extra).toEqual({ externalKey: "G-2", payload: { outbox: { unit: "G#S0", parts: [stored(p2), stored(p3)] } } });
    // Its members are settled by the letter: the registry keeps the earlier members and the larger supplement count.
    expect(ledger.get("group:G")).toEqual({
      externalKey: "group:G",
      contentHash: "group",
      members: ["x", "a", "b", "c", "d"],
      supplements: 2,
      writtenAt: NOW,
      runId: "run-1",
    });
  });

  it("a lost supplement plan with no registry entry: the registry takes its members and its supplement number", async () => {
    const s1 = part("G-S1", ["e"], "G", 1, 2);
    const { w, ledger, log } = await harness({ ledger: [written("G-S1", 1)] });
    await settleThroughOutbox(w, [s1], rowsOf("e"));
    expect(log.letters.map((l) => [l.sourceId, (l.error as BridgeError).code])).toEqual([["e", "changed_after_write"]]);
    expect((log.letters[0]!.extra as { payload: { outbox: { unit: string } } }).payload.outbox.unit).toBe("G#S1");
    expect(ledger.get("group:G")).toMatchObject({ members: ["e"], supplements: 1 });
  });
});
