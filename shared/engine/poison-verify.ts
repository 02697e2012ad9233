/**
 * Before a document that failed in too many runs is dead-lettered (poison.ts): a 5xx or a lost answer may have
 * committed, so the target is read back under the document's key first. When it holds the document with our lines,
 * no letter is filed (a letter would say "not written" about a document the target holds): the document stays set
 * aside, and the next run records it as written, by its pending write (pending-writes.ts) or by the verified lookup
 * every document tried before is written with (verify-existing.ts). Any other answer (not found, other lines, no
 * read-back, a read that fails) files the letter as before; its replay verifies existence before it sends.
 */
import { compareLines } from "../connectors/content-lines.ts";
import type { FlowRun } from "./run-context.ts";
import type { BuiltDocument } from "./types.ts";

/** Whether the target certainly holds `doc` with the lines it would write (false when it does not or cannot tell). */
export async function heldByTarget(run: FlowRun, doc: BuiltDocument): Promise<boolean> {
  const { target, targetOperation, logger } = run.deps;
  if (!target.readBack) return false;
  try {
    const back = await target.readBack({ operation: targetOperation, externalKey: doc.externalKey, payload: doc.payload });
    if (!back || back.theirs.length === 0 || compareLines(back.ours, back.theirs).length > 0) return false;
    logger.warn("a document that failed in too many runs is in the target after all (a failed send committed); not dead-lettered", {
      flowId: run.flowId,
      externalKey: doc.externalKey,
    });
    return true;
  } catch {
    return false; // a budget stop or a failed read: the letter is filed, its replay verifies
  }
}
