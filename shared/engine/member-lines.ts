/**
 * A merged member's own lines, its before-image (issue 16): its source row built alone. A member whose lines do
 * not map alone but do in its group (adv16b-member-no-image: a quantity-0 line carrying an amount is
 * UNIT_PRICE(10, 0) alone, fine once another member gives the item a quantity) is imaged by what it adds to the
 * group: the group's rows built with it minus built without it. When neither works the caller files a letter
 * naming the member: a member that is never followed must never be silent.
 */
import { BridgeError } from "../errors.ts";
import { diffLines, sumLines, type CorrectionShape, type ImageLine } from "../connectors/correction.ts";
import type { BuildResult, SourceRow } from "./types.ts";

export interface MemberLinesDeps {
  shape: CorrectionShape;
  /** Builds rows together, outside any window (the context a correction builds one row alone in). */
  build(rows: SourceRow[]): Pick<BuildResult, "documents" | "failures">;
}

/** The summed lines `rows` build to, and the head of the first document; undefined when they do not build. */
export function builtLines(deps: MemberLinesDeps, rows: SourceRow[]): { lines: ImageLine[]; head: Record<string, unknown> } | undefined {
  const built = deps.build(rows);
  if (built.failures.length || built.documents.length === 0) return undefined;
  return { lines: sumLines(built.documents.flatMap((d) => deps.shape.lines(d.payload))), head: deps.shape.head(built.documents[0]!.payload) };
}

/** What `row` adds to a group of `others` (their rows): built with it minus built without it. */
export function contributionLines(deps: MemberLinesDeps, row: SourceRow, others: SourceRow[]): ImageLine[] | undefined {
  const withIt = builtLines(deps, [...others, row]);
  const without = others.length ? builtLines(deps, others) : { lines: [] };
  if (!withIt || !without) return undefined;
  return diffLines(without.lines, withIt.lines);
}

/** The letter of a posted member whose own lines cannot be known: its later edits and cancellation are not followed. */
export function memberUnfollowed(sourceId: string, groupKey: string): BridgeError {
  return new BridgeError(
    "change_unfollowed",
    `member ${sourceId} was posted in group ${groupKey}, but its own lines cannot be told apart (its row does not map on its own, nor as its share of the group): a later edit or cancellation of it will not be corrected`,
    {
      hint: "fix what keeps the document from mapping on its own (see the flow's mapping errors for it); until then compare it with the target and correct by hand, then resolve this dead letter",
    },
  );
}
