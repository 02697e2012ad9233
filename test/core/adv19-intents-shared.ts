/** Shared pieces of the adv19-intents-* adversary tests (write intents, commit 1fe1973). Real engine, emulators. */
import { afterEach, expect } from "vitest";
import { type RunRequest, runFlowById } from "../../shared/engine/runner.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { MemoryFlowCoordinator } from "../../shared/state/flow-index.ts";
import { OutboxStore } from "../../shared/state/outbox-store.ts";
import { FlowStateStore } from "../../shared/state/state-store.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { type E2E, type E2EOptions, startE2E } from "../helpers/e2e.ts";
import { kisTotals, signedDifferences, sourceTotals, tplusTotals } from "../helpers/signed-invariant.ts";

export const KIS = "jst-other-in-to-kis";
export const TPLUS = "jst-sales-out-to-tplus";
export type Row = Record<string, unknown>;

/** Call once at module level: returns `start`, which starts a harness that is closed after the test that started it. */
export function e2ePerTest(): (options?: E2EOptions) => Promise<E2E> {
  let current: E2E | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (options) => {
    const e = await startE2E(options);
    current = e;
    return e;
  };
}

/** The bill number (FBillNo) a KIS create's body carries. */
export const billOf = (body: string) => /"FBillNo"\s*:\s*"([^"]+)"/.exec(body)?.[1];

const urlOf = (input: Parameters<FetchLike>[0]) => (typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
export const isCreate = (input: Parameters<FetchLike>[0]) => /\/create$/i.test(new URL(urlOf(input)).pathname);
const bodyText = (init: Parameters<FetchLike>[1]) => (typeof init?.body === "string" ? init.body : "");

/**
 * A network that kills the invocation at a create: `sent` true → the create reaches KIS (committed) and its answer
 * never arrives; false → it never leaves. `which` picks the create (by its body), default the first.
 */
export function killAtCreate(sent: boolean, which: (body: string) => boolean = () => true, count = 1): FetchLike {
  let seen = 0;
  let dead = false;
  return async (input, init) => {
    if (dead) return new Promise<Response>(() => {});
    if (isCreate(input) && which(bodyText(init)) && ++seen >= count) {
      dead = true;
      if (sent) await fetch(input, init);
      return new Promise<Response>(() => {});
    }
    return fetch(input, init);
  };
}

export async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  for (let i = 0; i < ms / 20 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
}

export const addLine = (e: E2E, doc: Row) => {
  const items = structuredClone(doc.items as Row[]);
  items.push({ ...items[0]!, sku_id: items[0]!.sku_id, qty: 3, ioi_id: 999 });
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: doc.io_id, items });
};

export const docOf = (e: E2E, billNo: string) => e.stack.jushuitan.documents(JST_PATHS.otherInOut).find((d) => String(d.io_id) === billNo)!;

/** Signed differences between the source's Confirmed lines of one document and every KIS bill under its number. */
export function differences(e: E2E, billNo: string): string[] {
  const until = e.clock.now() - 5 * 60_000;
  const source = sourceTotals(
    e.stack.jushuitan.documents(JST_PATHS.otherInOut),
    (d) => String(d.io_id) === billNo && d.type === "其它退货" && parseInZone(String(d.modified))! < until,
  );
  const target = kisTotals(e.stack.kis.bills().filter((b) => String(b.FBillNo).startsWith(billNo)) as Array<{ Head: Row; Entry: Row[] }>);
  return signedDifferences(source, target);
}

/**
 * The first KIS bill, committed by an invocation killed before its answer (`killed`, default) or by a run to
 * completion (the control); returns its number.
 */
export async function firstKisBill(e: E2E, killed = true): Promise<string> {
  if (killed) {
    void e.run(KIS, {}, { fetch: killAtCreate(true) });
    await waitFor(() => e.stack.kis.bills().length > 0);
  } else await e.runToCompletion(KIS);
  return String(e.stack.kis.bills()[0]!.FBillNo);
}

/** The source edits the first line of `doc` (a document under `path`): its quantity grows by `by`. */
export function bumpFirstLine(e: E2E, path: string, doc: Row, by: number): void {
  const items = structuredClone(doc.items as Row[]);
  items[0]!.qty = Number(items[0]!.qty) + by;
  e.stack.jushuitan.upsertDocument(path, { io_id: doc.io_id, items });
}

/** Starts `run` with a network that kills it once KIS committed both corrections of `billNo` (-R and -B), and waits for them. */
export async function killAfterCorrections(e: E2E, billNo: string, run: (fetch: FetchLike) => unknown): Promise<void> {
  const correction = (body: string) => body.includes(`${billNo}-R`) || body.includes(`${billNo}-B`);
  void run(killAtCreate(true, correction, 2));
  await waitFor(() => e.stack.kis.bills().filter((b) => /-[RB]\d+$/.test(String(b.FBillNo))).length >= 2);
}

/**
 * A bill committed by an invocation killed before its answer; `twice`: an invocation killed at that bill's create
 * before it left (nothing committed), then `between` changes its document. Then the source cancels it and the flow runs
 * to completion twice. Returns the bill's signed differences and the open letters ([key, code]).
 */
export async function killedThenCancelled(e: E2E, twice: boolean, between: (billNo: string) => void) {
  let billNo: string | undefined;
  if (twice) {
    void e.run(KIS, {}, { fetch: killAtCreate(false, (body) => (billNo = billNo ?? billOf(body)) !== undefined) });
    await waitFor(() => billNo !== undefined);
    expect(e.stack.kis.bills()).toHaveLength(0);
    between(billNo!);
    e.clock.advance(60 * 60_000); // the dead run's lease expires
  }
  void e.run(KIS, {}, { fetch: killAtCreate(true, (body) => billNo === undefined || billOf(body) === billNo) });
  await waitFor(() => e.stack.kis.bills().length > 0);
  billNo = billNo ?? String(e.stack.kis.bills()[0]!.FBillNo);
  expect(e.stack.kis.bills().filter((b) => String(b.FBillNo) === billNo)).toHaveLength(1);
  const intents = (await new OutboxStore(e.kv).list(KIS)).filter((p) => p.unit.startsWith("intent:"));
  expect(intents.filter((p) => p.parts.some((part) => part.externalKey === billNo))).toHaveLength(twice ? 2 : 1);
  e.stack.jushuitan.upsertDocument(JST_PATHS.otherInOut, { io_id: docOf(e, billNo).io_id, status: "Cancelled" });
  e.clock.advance(60 * 60_000);
  await e.runToCompletion(KIS);
  await e.runToCompletion(KIS);
  const letters = await new FlowStateStore(e.kv).listDeadLetters(KIS, { status: "open" });
  return { diff: differences(e, billNo), letters: letters.map((l) => [l.externalKey, l.error.code]) };
}

/** A per-document (not merged) T+ flow built from the seed sales-out flow: ExternalCode = io_id, no merge operation. */
export function perDocument(e: E2E): E2E {
  const flow = e.flows[TPLUS]! as unknown as Record<string, unknown> & { target: { externalKey: string; fields: Array<Record<string, unknown>> } };
  delete flow.operation;
  flow.target.externalKey = "{io_id}";
  flow.target.fields.find((f) => f.field === "ExternalCode")!.value = "{io_id}";
  return e;
}

/** A harness with 12 sales-out documents (no other-in/out) whose T+ flow is per document (`perDocument`). */
export async function perDocumentTplus(start: (options?: E2EOptions) => Promise<E2E>, options: E2EOptions = {}): Promise<E2E> {
  return perDocument(await start({ days: 2, otherInOut: 0, salesOut: 12, ...options }));
}

export const tplusVouchers = (e: E2E) => e.stack.tplus.vouchers("otherDispatch") as unknown as Array<{ ExternalCode: string; payload: Row }>;

/** Signed differences between the source's lines of sales-out `io` (past the read lag) and every T+ voucher under its code. */
export function tplusDifferences(e: E2E, io: string): string[] {
  const until = e.clock.now() - 5 * 60_000;
  const source = sourceTotals(e.stack.jushuitan.documents(JST_PATHS.salesOut), (d) => String(d.io_id) === io && parseInZone(String(d.modified))! < until);
  return signedDifferences(source, tplusTotals(tplusVouchers(e).filter((v) => String(v.ExternalCode).startsWith(io))));
}

/**
 * The first T+ voucher, committed by an invocation killed before its answer (`killed`, default) or by a run to
 * completion (the control); returns its ExternalCode (the io_id of a per-document flow).
 */
export async function firstTplusVoucher(e: E2E, killed = true): Promise<string> {
  if (killed) {
    void e.run(TPLUS, {}, { fetch: killAtCreate(true) });
    await waitFor(() => tplusVouchers(e).length > 0);
  } else await e.runToCompletion(TPLUS);
  return String(tplusVouchers(e)[0]!.ExternalCode);
}

/**
 * The KIS flow run over the flow index (the Durable Object model: MemoryFlowCoordinator as the lock): `run` one
 * invocation (optionally through `fetch`), `toCompletion`, and the index's open `plans` (their units).
 */
export function indexedKis(e: E2E) {
  const lock = new MemoryFlowCoordinator(e.clock);
  let n = 0;
  const run = (request: Partial<RunRequest> = {}, fetch?: FetchLike) =>
    runFlowById(
      { ...e.ports, lock, ...(fetch ? { fetch } : {}) },
      { flowId: KIS, runId: `idx-${++n}`, trigger: "cli", budget: { maxSubrequests: 10_000 }, ...request },
    );
  const toCompletion = async (request: Partial<RunRequest> = {}) => {
    for (let i = 0; i < 500; i++) if (!(await run(request)).summary.continues) return i + 1;
    throw new Error("did not complete");
  };
  const plans = async () => (await lock.loadIndex(KIS, { groupsSince: 0 })).plans.map((p) => p.unit);
  return { lock, run, toCompletion, plans };
}
