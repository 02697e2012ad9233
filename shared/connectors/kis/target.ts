/**
 * KisTarget: writes KIS bills so that nothing is ever booked twice.
 *
 * The external key is a deterministic bill number (FBillNo), or — when the account numbers bills itself — a head
 * custom field such as FHeadSelfB0163 carrying the source id (`keyField`). Rules:
 *  - by default the bill is looked up before the first send (KIS may not enforce FBillNo uniqueness: UNCERTAIN;
 *    a custom field is never enforced);
 *  - a duplicate-bill answer means "already_exists";
 *  - after any retryable failure (timeout after send, dropped connection, 5xx, throttling, garbled answer) the bill
 *    is looked up again before the next send; a send never follows an unknown outcome without a negative lookup;
 *  - if the lookup cannot be done, the write fails instead of risking a second bill.
 */
import { BridgeError, BudgetExhaustedError, ConfigError, isRetryable } from "../../errors.ts";
import { silentLogger, type Logger } from "../../ports.ts";
import { withRetry } from "../../util/retry.ts";
import type { TargetConnector, TargetWrite, TargetWriteOptions, TargetWriteResult } from "../target.ts";
import { KisBusinessError, KisDuplicateBillError, KisLookupError, KisPagingError, KisThrottledError } from "./errors.ts";
import { linesOf, type ContentLine, type ReadBack } from "../content-lines.ts";
import { KIS_BILL_TYPES, parseKisOperation, type KisBillObject, type KisBillRow, type KisBillType, type KisOperations } from "./operations.ts";
import { addDaysToDay } from "../../util/time.ts";

export interface KisTargetOptions {
  operations: KisOperations;
  /** Head field holding the external key. Default "FBillNo". */
  keyField?: string;
  /**
   * "always" (default): look the bill up before the first send. "after_unknown_outcome": trust KIS to reject a
   * duplicate FBillNo and only look up after an unknown outcome (one call cheaper; only allowed with FBillNo).
   */
  precheck?: "always" | "after_unknown_outcome";
  /** Attempts per write, including the first. Defaults to the client's retry settings. */
  retry?: { tries?: number; baseDelayMs?: number; maxDelayMs?: number };
  lookup?: {
    /** ItemsOfPage for list lookups. Default 50. */
    pageSize?: number;
    /** Pages scanned before giving up (the write then fails rather than risk a duplicate). Default 20. */
    maxPages?: number;
    /** getdetail reads allowed per lookup when list rows lack the key field. Default 100. */
    maxDetailReads?: number;
    /** Days either side of the bill's Fdate scanned by date (list date filters are UNCERTAIN). Default 1. */
    dateSlackDays?: number;
  };
  logger?: Logger;
}

export class KisTarget implements TargetConnector {
  readonly system = "kis" as const;
  private readonly ops: KisOperations;
  private readonly keyField: string;
  private readonly precheck: "always" | "after_unknown_outcome";
  private readonly retry: { tries: number; baseDelayMs: number; maxDelayMs: number };
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly maxDetailReads: number;
  private readonly slackDays: number;
  private readonly logger: Logger;

  constructor(options: KisTargetOptions) {
    this.ops = options.operations;
    this.keyField = options.keyField ?? "FBillNo";
    this.precheck = options.precheck ?? "always";
    if (this.precheck === "after_unknown_outcome" && this.keyField !== "FBillNo") {
      throw new ConfigError(`KIS precheck "after_unknown_outcome" needs keyField FBillNo (KIS does not enforce uniqueness of ${this.keyField})`, {
        hint: 'Use precheck "always" with a custom key field.',
      });
    }
    this.retry = { ...this.ops.client.retryOptions, ...options.retry };
    this.pageSize = options.lookup?.pageSize ?? 50;
    this.maxPages = options.lookup?.maxPages ?? 20;
    this.maxDetailReads = options.lookup?.maxDetailReads ?? 100;
    this.slackDays = options.lookup?.dateSlackDays ?? 1;
    this.logger = options.logger ?? silentLogger;
  }

  /** `options.verifyExisting` forces the lookup before the first send even with precheck "after_unknown_outcome". */
  async write(doc: TargetWrite, options: TargetWriteOptions = {}): Promise<TargetWriteResult> {
    const { bill, action } = parseKisOperation(doc.operation);
    if (action !== "create") {
      throw new ConfigError(`KIS target writes only */create operations, not "${doc.operation}"`, { details: { operation: doc.operation } });
    }
    const key = doc.externalKey;
    if (typeof key !== "string" || key.trim() === "") {
      throw new ConfigError(`KIS write for ${doc.operation} has an empty external key`, { hint: `Map a deterministic value into ${this.keyField}.` });
    }
    const object = this.prepare(bill, doc);

    if (this.precheck === "always" || options.verifyExisting) {
      const found = await this.findByKey(bill, key, object.Head);
      if (found) return this.result(key, "already_exists", found);
    }

    let outcomeUnknown = false;
    return withRetry(
      async () => {
        if (outcomeUnknown) {
          // The last send may have been saved: look before sending again.
          const found = await this.findByKey(bill, key, object.Head);
          if (found) {
            this.logger.info("KIS bill found after an unknown outcome; not resending", { bill, key });
            return { ...this.result(key, "created", found), recovered: true };
          }
          outcomeUnknown = false;
        }
        try {
          const created = await this.ops.createBill(bill, object);
          return { externalKey: key, status: "created", targetId: String(created.FID), targetCode: created.FBillNo };
        } catch (error) {
          if (error instanceof KisDuplicateBillError) return this.onDuplicate(bill, key, object.Head, error);
          if (isRetryable(error)) outcomeUnknown = true;
          throw error;
        }
      },
      {
        ...this.retry,
        clock: this.ops.client.clockPort,
        minDelayFor: (e) => (e instanceof KisThrottledError ? e.retryAfterMs : undefined),
        onRetry: (e, attempt, delayMs) =>
          this.logger.warn("KIS write failed; will look the bill up before resending", { bill, key, attempt, delayMs, code: (e as { code?: string }).code }),
      },
    );
  }

  /** Outage probe (connectors/target.ts): a one-row list of the bill type answers while KIS is up. */
  async probe(operation: string): Promise<boolean> {
    const { bill } = parseKisOperation(operation);
    await this.ops.listBills(bill, { CurrentPage: 1, ItemsOfPage: 1 });
    return true;
  }

  /** Writes one by one. Each failure is returned with its key; BudgetExhaustedError stops the batch and escapes
   * (what was written so far is found by the next run's lookup). */
  async writeBatch(docs: TargetWrite[]): Promise<Array<TargetWriteResult | { externalKey: string; error: BridgeError }>> {
    const out: Array<TargetWriteResult | { externalKey: string; error: BridgeError }> = [];
    for (const doc of docs) {
      try {
        out.push(await this.write(doc));
      } catch (error) {
        if (error instanceof BudgetExhaustedError) throw error;
        const bridgeError = error instanceof BridgeError ? error : new BridgeError("kis_unexpected", error instanceof Error ? error.message : String(error));
        out.push({ externalKey: doc.externalKey, error: bridgeError });
      }
    }
    return out;
  }

  /**
   * Finds the bill carrying `key` in `keyField`, or null when it certainly does not exist.
   * FBillNo: list filtered by FBillNo; when the server ignores that filter (rows with other numbers come back),
   * scan the bill's date range instead. Custom field: scan the date range, reading details when rows lack the field.
   */
  async findByKey(bill: KisBillType, key: string, head: Record<string, unknown>): Promise<KisBillRow | null> {
    try {
      if (this.keyField === "FBillNo") {
        const page = await this.ops.listBills(bill, { CurrentPage: 1, ItemsOfPage: this.pageSize, FBillNo: key });
        const hit = page.rows.find((r) => r.FBillNo === key);
        if (hit) return hit;
        if (page.rows.every((r) => r.FBillNo === key)) return null; // the filter was honoured
        this.logger.warn("KIS bill list ignored the FBillNo filter; scanning by date", { bill });
      }
      return await this.scanByDate(bill, key, head);
    } catch (error) {
      if (error instanceof KisPagingError) {
        throw new KisLookupError(`Cannot tell whether KIS ${bill} ${this.keyField}=${key} exists: ${error.message}`, error.hint ?? "", {
          bill,
          key,
        });
      }
      throw error;
    }
  }

  private async scanByDate(bill: KisBillType, key: string, head: Record<string, unknown>): Promise<KisBillRow | null> {
    const day = billDay(head.Fdate);
    if (!day) {
      throw new KisLookupError(
        `Cannot look up KIS ${bill} by ${this.keyField} without a valid Head.Fdate`,
        "Map Fdate (YYYY-MM-DD HH:mm:ss) into the bill head.",
        { bill, key },
      );
    }
    const from = addDaysToDay(day, -this.slackDays);
    const to = addDaysToDay(day, this.slackDays);
    let detailReads = 0;
    for await (const row of this.ops.bills(bill, { StartDate: from, EndDate: to }, { pageSize: this.pageSize, maxPages: this.maxPages })) {
      const rowDay = billDay(row.Fdate);
      if (rowDay && (rowDay < from || rowDay > to)) continue; // the server ignored the date filter
      let value = row.head[this.keyField];
      if (value === undefined && this.keyField !== "FBillNo" && row.FID !== undefined) {
        if (++detailReads > this.maxDetailReads) {
          throw new KisLookupError(
            `Looking up KIS ${bill} by ${this.keyField}=${key} needs more than ${this.maxDetailReads} detail reads`,
            "Key the flow on FBillNo, or raise lookup.maxDetailReads.",
            { bill, key },
          );
        }
        value = (await this.ops.getBillDetail(bill, row.FID)).Head[this.keyField];
      }
      if (value !== undefined && value !== null && String(value) === key) return row;
    }
    return null;
  }

  /**
   * The bill stored under the key, read back with getdetail (by the FID the write learned, else found by key first):
   * its Entry lines (FItemID, FQty) next to ours. null when no bill carries the key.
   */
  async readBack(doc: TargetWrite, hint: { targetId?: string } = {}): Promise<ReadBack | null> {
    const { bill } = parseKisOperation(doc.operation);
    const object = this.prepare(bill, doc);
    let fid = hint.targetId !== undefined && /^\d+$/.test(hint.targetId) ? Number(hint.targetId) : undefined;
    if (fid === undefined) {
      const found = await this.findByKey(bill, doc.externalKey, object.Head);
      if (found?.FID === undefined) return null;
      fid = Number(found.FID);
    }
    const stored = await this.ops.getBillDetail(bill, fid);
    return { targetId: String(fid), ours: entryLines(object.Entry), theirs: entryLines(stored.Entry) };
  }

  contentLines(doc: TargetWrite): ContentLine[] {
    return entryLines(this.prepare(parseKisOperation(doc.operation).bill, doc).Entry);
  }

  private async onDuplicate(bill: KisBillType, key: string, head: Record<string, unknown>, error: KisDuplicateBillError): Promise<TargetWriteResult> {
    if (this.keyField === "FBillNo") {
      // The key is the bill number: a duplicate is our bill. The lookup only adds the FID, so it may fail.
      let found: KisBillRow | null = null;
      let lookedUp = false;
      try {
        found = await this.findByKey(bill, key, head);
        lookedUp = true;
      } catch (lookupError) {
        if (lookupError instanceof BudgetExhaustedError) throw lookupError;
      }
      if (found === null && lookedUp) {
        // The lookup answered "no such bill": the refusal only looked like a duplicate. Recording it as booked
        // would lose the document, so it becomes a business error (dead letter) with KIS's reason.
        throw new KisBusinessError(error.errcode, "unknown", `${error.reason} (no bill ${key} exists in KIS, so this is not our duplicate)`);
      }
      return found ? this.result(key, "already_exists", found) : { externalKey: key, status: "already_exists", targetCode: key };
    }
    // The key is a custom field, so the taken FBillNo may belong to another document.
    const found = await this.findByKey(bill, key, head);
    if (found) return this.result(key, "already_exists", found);
    throw error;
  }

  private result(key: string, status: TargetWriteResult["status"], row: KisBillRow): TargetWriteResult {
    return {
      externalKey: key,
      status,
      ...(row.FID !== undefined ? { targetId: String(row.FID) } : {}),
      ...(row.FBillNo !== undefined ? { targetCode: row.FBillNo } : {}),
    };
  }

  /** Accepts `{Object:{Head,Entry}}` or `{Head,Entry}`; puts the key into the key field and a default FTranType. */
  private prepare(bill: KisBillType, doc: TargetWrite): KisBillObject {
    const p = doc.payload;
    const source = isRecord(p.Object) ? p.Object : p;
    const head = source.Head;
    const entry = source.Entry;
    if (!isRecord(head) || !Array.isArray(entry)) {
      throw new ConfigError(`KIS payload for ${doc.operation} must be {"Object":{"Head":{…},"Entry":[…]}}`, {
        hint: "Map the bill head into Head and the lines into Entry.",
        details: { externalKey: doc.externalKey },
      });
    }
    const object = structuredClone({ Head: head, Entry: entry }) as KisBillObject;
    const current = object.Head[this.keyField];
    if (current !== undefined && current !== null && current !== "" && String(current) !== doc.externalKey) {
      throw new ConfigError(`KIS payload ${this.keyField}="${String(current)}" differs from the external key "${doc.externalKey}"`, {
        hint: `Leave ${this.keyField} unmapped (the writer fills it) or map it to the same value as the external key.`,
        details: { path: `Head.${this.keyField}` },
      });
    }
    object.Head[this.keyField] = doc.externalKey;
    object.Head.FTranType ??= KIS_BILL_TYPES[bill].tranType;
    return object;
  }
}

/** Bill lines as item + quantity (FItemID, FQty; Fauxqty when FQty is absent). */
const entryLines = (entry: unknown): ContentLine[] =>
  linesOf(
    entry,
    (e) => e.FItemID,
    (e) => e.FQty ?? e.Fauxqty,
  );

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

/** "YYYY-MM-DD…" → "YYYY-MM-DD", else undefined. */
function billDay(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(v.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}
