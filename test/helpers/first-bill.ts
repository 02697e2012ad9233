/**
 * The adversary set-up several poison tests share: learn, on a throw-away stack, which KIS bill a run writes first
 * (the oldest `modified` among the bills the source says belong in KIS), so the real stack can make exactly that bill
 * fail. The emulator's seed is deterministic: a stack started next with the same sizes holds the same documents.
 */
import { JST_PATHS } from "../emulators/jushuitan/index.ts";
import { E2E_START, startE2E } from "./e2e.ts";
import { expectedKis } from "./targets.ts";

export async function firstKisBill(otherInOut = 40) {
  const probe = await startE2E({ salesOut: 0, otherInOut });
  const docs = probe.stack.jushuitan.documents(JST_PATHS.otherInOut);
  const expected = expectedKis(docs, 0, E2E_START - 5 * 60_000);
  await probe.close();
  const target = docs.filter((d) => expected.has(String(d.io_id))).sort((a, b) => String(a.modified).localeCompare(String(b.modified)))[0]!;
  return { billNo: String(target.io_id), target, expected };
}
