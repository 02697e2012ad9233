/**
 * The merge outbox: the plan of a merged group (its parts' keys, payloads, members and content hashes), stored
 * before the group's first part is written and deleted once every part is settled and the group registry saved.
 * A run that stops between parts leaves the plan behind; the next run writes exactly the parts still missing,
 * with the stored content, instead of planning the group again (engine-review finding 2).
 *
 *   outbox:<flow>:<unit>     one plan per group unit (`<groupKey>#S<supplement>`, URI-encoded)
 *
 * One value per group, so no value grows with a day's volume beyond one group's parts (maxLines × parts).
 */
import type { KeyValueStore } from "../ports.ts";
import { readMany } from "./kv-helpers.ts";
import { checkFlowId } from "./keys.ts";

export const OUTBOX_PREFIX = "outbox:";

export interface PlannedPart {
  externalKey: string;
  payload: Record<string, unknown>;
  members: string[];
  contentHash: string;
}

export interface OutboxPlan {
  v: 1;
  /** `<groupKey>#S<supplement>` */
  unit: string;
  groupKey: string;
  supplement: number;
  parts: PlannedPart[];
  /** Every member of every part. */
  members: string[];
  /** Hash over the parts' keys and content hashes. */
  planHash: string;
  runId: string;
  createdAt: number;
  /** Each member's own lines when planned (engine/changes.ts before-images): a later run may hold newer rows. */
  images?: Record<string, import("./records.ts").StoredImageLine[]>;
  /** A pending write (unit `pending:<key>`, engine/pending-writes.ts): the ledger entries its answer would have settled. */
  settle?: import("./records.ts").LedgerEntry[];
  /** A pending write sent again (engine/pending-resend.ts): runs whose resend failed with a retryable error. */
  resendFailures?: number;
}

export const outboxUnit = (groupKey: string, supplement: number) => `${groupKey}#S${supplement}`;
const keyOf = (flow: string, unit: string) => `${OUTBOX_PREFIX}${checkFlowId(flow)}:${encodeURIComponent(unit)}`;

export class OutboxStore {
  private readonly kv: KeyValueStore;

  constructor(kv: KeyValueStore) {
    this.kv = kv;
  }

  /** Open plans of a flow (one list, one read per open plan: normally none). */
  async list(flow: string): Promise<OutboxPlan[]> {
    const keys = await this.kv.list(`${OUTBOX_PREFIX}${checkFlowId(flow)}:`);
    if (keys.length === 0) return [];
    const values = await readMany(this.kv, keys);
    const plans: OutboxPlan[] = [];
    for (const raw of values.values()) {
      if (raw === null) continue;
      const plan = JSON.parse(raw) as OutboxPlan;
      if (plan && plan.v === 1 && Array.isArray(plan.parts)) plans.push(plan);
    }
    return plans;
  }

  async put(flow: string, plan: OutboxPlan): Promise<void> {
    await this.kv.put(keyOf(flow, plan.unit), JSON.stringify(plan));
  }

  async delete(flow: string, unit: string): Promise<void> {
    await this.kv.delete(keyOf(flow, unit));
  }
}
