/** Shared pieces of the adv19-intents-* adversary tests (write intents, commit 1fe1973). Real engine, emulators. */
import type { FetchLike } from "../../shared/ports.ts";
import { parseInZone } from "../../shared/util/time.ts";
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import type { E2E } from "../helpers/e2e.ts";
import { kisTotals, signedDifferences, sourceTotals } from "../helpers/signed-invariant.ts";

export const KIS = "jst-other-in-to-kis";
export type Row = Record<string, unknown>;

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
