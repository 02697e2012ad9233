/**
 * A document's corrections chain for GET /trace (issue 16): the original document (or merge group) and every
 * document that completes or corrects it — supplements `-S<n>`, reversals `-R<n>`, reposts `-B<n>`, differences
 * `-C<n>` / `-C<n>-B` (engine/key-scheme.ts) — with the signed quantity and amount each carries (as the target
 * counts them: a red document subtracts whatever sign it was sent with) and what caused it: the run record's
 * correction (the source document and its `modified` stamp, cancelled or changed). Built from trace events only.
 */
import type { CorrectionRecord } from "../engine/changes.ts";
import { parseRelatedKey, type RelatedKeyKind } from "../engine/key-scheme.ts";

/** The trace event a run's correction records become (recorded with the run record). */
export type CorrectionTraceEvent = {
  t: "correction";
  at: number;
  key: string;
  of: string;
  id: string;
  kind: CorrectionRecord["kind"];
  cause: CorrectionRecord["cause"];
  event?: string;
  status: CorrectionRecord["status"];
};

export const correctionEvents = (records: readonly CorrectionRecord[], at: number): CorrectionTraceEvent[] =>
  records.map((c) => ({
    t: "correction",
    at,
    key: c.externalKey,
    of: c.of,
    id: c.sourceId,
    kind: c.kind,
    cause: c.cause,
    ...(c.event ? { event: c.event } : {}),
    status: c.status,
  }));

type Figures = { qty?: number; amount?: number };

export interface ChainLink extends Figures {
  key: string;
  /** What the key says it is ("original" for the document or group itself). */
  role: "original" | RelatedKeyKind;
  run?: string;
  at?: number;
  targetId?: string;
  /** For corrections: red, blue or signed; why; the source document and its change stamp; written or pending. */
  kind?: CorrectionRecord["kind"];
  cause?: CorrectionRecord["cause"];
  sourceId?: string;
  event?: string;
  status?: CorrectionRecord["status"] | "written";
}

export interface CorrectionChain {
  /** The original document's or merge group's key. */
  of: string;
  links: ChainLink[];
  /** Sum of the links' figures: what the target holds for the document now (when every payload was traced). */
  net?: Figures;
}

type Ev = { t: string; at: number; run?: string; key?: string; targetId?: string; payload?: unknown; members?: string[] } & Partial<
  Omit<CorrectionTraceEvent, "t" | "at" | "key" | "status">
> & { status?: string };

const round = (n: number) => Math.round(n * 1e6) / 1e6;
const rec = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Signed figures of a written payload: KIS `{Head, Entry}` (FROB -1 subtracts) or T+ `RDRecordDetails` / 销货单 `SaleDeliveryDetails` (tplus/line-shapes.ts). */
function figuresOf(payload: unknown, kind: ChainLink["kind"]): Figures | undefined {
  const p = rec(payload);
  if (!p) return undefined;
  const head = rec(p.Head);
  const kisLines = Array.isArray(p.Entry) ? (p.Entry as unknown[]) : undefined;
  const tplusLines = p.RDRecordDetails ?? p.SaleDeliveryDetails;
  const lines = kisLines ?? (Array.isArray(tplusLines) ? (tplusLines as unknown[]) : undefined);
  if (!lines) return undefined;
  const red = kind === "red" || head?.FROB === -1;
  const sign = (n: number) => (red ? -Math.abs(n) : n);
  let qty = 0;
  let amount: number | undefined;
  for (const raw of lines) {
    const l = rec(raw) ?? {};
    qty += sign(Number(l.FQty ?? l.BaseQuantity ?? l.Quantity ?? 0));
    const a = l.Famount ?? l.Amount ?? l.OrigTaxAmount;
    if (a !== undefined) amount = (amount ?? 0) + sign(Number(a));
  }
  return { qty: round(qty), ...(amount !== undefined ? { amount: round(amount) } : {}) };
}

/** The chains of the documents a trace search found: one per original key that has at least one related document. */
export function correctionChains(events: readonly Ev[]): CorrectionChain[] {
  const chains = new Map<string, Map<string, ChainLink>>();
  const linkOf = (key: string, of?: string) => {
    const related = parseRelatedKey(key);
    const base = of ?? related?.base ?? key;
    const links = chains.get(base) ?? new Map<string, ChainLink>();
    chains.set(base, links);
    const link = links.get(key) ?? { key, role: related && base !== key ? related.kind : "original" };
    links.set(key, link);
    return link;
  };
  for (const e of events) {
    if (e.t === "correction" && e.key && e.of) {
      Object.assign(linkOf(e.key, e.of), {
        kind: e.kind,
        cause: e.cause,
        sourceId: e.id,
        ...(e.event ? { event: e.event } : {}),
        status: e.status as CorrectionTraceEvent["status"],
        run: e.run,
      });
    }
  }
  for (const e of events) {
    if ((e.t !== "write" && e.t !== "settled") || !e.key) continue;
    const related = parseRelatedKey(e.key);
    const of = related && chains.has(related.base) ? related.base : chains.has(e.key) ? e.key : related?.base;
    if (of === undefined) continue;
    const link = linkOf(e.key, of);
    Object.assign(link, { run: link.run ?? e.run, at: e.at, ...(e.targetId ? { targetId: e.targetId } : {}) });
    // Written (by the run or later by a dead-letter replay): a run's "pending" record no longer holds.
    link.status = "written";
    const figures = figuresOf(e.payload, link.kind);
    if (figures) Object.assign(link, figures);
  }
  const out: CorrectionChain[] = [];
  for (const [of, links] of chains) {
    const list = [...links.values()];
    if (!list.some((l) => l.role !== "original")) continue;
    const order = (l: ChainLink) => (l.role === "original" ? 0 : 1);
    list.sort((a, b) => order(a) - order(b) || (a.at ?? Infinity) - (b.at ?? Infinity) || (a.key < b.key ? -1 : 1));
    const complete = list.every((l) => l.qty !== undefined) && list.some((l) => l.role === "original");
    const amounts = list.every((l) => l.amount !== undefined);
    out.push({
      of,
      links: list,
      ...(complete
        ? { net: { qty: round(list.reduce((n, l) => n + l.qty!, 0)), ...(amounts ? { amount: round(list.reduce((n, l) => n + l.amount!, 0)) } : {}) } }
        : {}),
    });
  }
  return out;
}
