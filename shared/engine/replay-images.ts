/**
 * Before-images of what a dead-letter replay writes (engine/replay.ts), the same ones a run records
 * (change-writer.ts imagesOf): without them a document booked by a replay and cancelled or edited later is taken for
 * "new" and never corrected (adversary finding adv16-replayed-no-image).
 */
import { sumLines } from "../connectors/correction.ts";
import type { FlowDocumentBuilder } from "../flow/builder.ts";
import type { Flow } from "../flow/schema.ts";
import type { Clock, KeyValueStore } from "../ports.ts";
import { withLearnedRedForm } from "../doctor/red-form.ts";
import type { LedgerEntry } from "../state/records.ts";
import type { PlannedPart } from "../state/outbox-store.ts";
import { changeSettingsFor } from "./change-settings.ts";
import { ChangeBook, imageKey } from "./changes.ts";
import type { BuiltDocument, SourceRow } from "./types.ts";

export interface ReplayImages {
  /** Image entries of a written document: a not merged one's lines, or each member's own lines in its group. */
  ofDocument(doc: Pick<BuiltDocument, "externalKey" | "payload" | "members" | "contentHash" | "groupKey">, at: number, runId: string): LedgerEntry[];
  /** Image entries of written parts of a merged group's outbox plan (unit `<groupKey>#S<n>`); none for a correction's. */
  ofPlanned(unit: string | undefined, parts: PlannedPart[], at: number, runId: string): LedgerEntry[];
}

/** Undefined when the flow follows no changes (no target.onChange): nothing to image. */
export async function replayImages(
  flow: Flow,
  deps: {
    env: Record<string, string | undefined>;
    kv: KeyValueStore;
    clock: Clock;
    builder: FlowDocumentBuilder;
    rows: SourceRow[];
    ledger: (key: string) => LedgerEntry | undefined;
  },
): Promise<ReplayImages | undefined> {
  const { changes } = changeSettingsFor(flow, await withLearnedRedForm(deps.env, deps.kv), deps.clock);
  if (!changes) return undefined;
  const book = new ChangeBook(changes, deps.ledger);
  const now = deps.clock.now();
  // Each member's own lines: its source row built alone, as the run's change writer does.
  const own = new Map<string, ReturnType<typeof sumLines>>();
  for (const row of deps.rows) {
    const built = deps.builder.build([row], { lastSyncTime: now, currentTime: now });
    const id = built.documents[0]?.members[0];
    if (built.failures.length || id === undefined) continue;
    own.set(id, sumLines(built.documents.flatMap((d) => changes.shape.lines(d.payload))));
  }
  // A member imaged already (a run read its change while the plan was held: change-writer.ts) keeps that image: it
  // is the newer knowledge, and its correction is settled against it.
  const ofGroup = (groupKey: string, members: string[], payload: Record<string, unknown>, at: number, runId: string) =>
    book.memberImages(
      groupKey,
      members.flatMap((id) => (own.has(id) && !deps.ledger(imageKey(id)) ? [{ id, lines: own.get(id)! }] : [])),
      payload,
      at,
      runId,
    );
  return {
    ofDocument(doc, at, runId) {
      if (doc.groupKey === undefined) return book.documentImage(doc as BuiltDocument, at, runId);
      return ofGroup(doc.groupKey, doc.members, doc.payload, at, runId);
    },
    ofPlanned(unit, parts, at, runId) {
      const groupKey = unit?.match(/^(.*)#S\d+$/)?.[1];
      if (groupKey === undefined || unit!.startsWith("correction:")) return [];
      if (parts.length === 0) return [];
      return ofGroup(groupKey, [...new Set(parts.flatMap((p) => p.members))], parts[0]!.payload, at, runId);
    },
  };
}
