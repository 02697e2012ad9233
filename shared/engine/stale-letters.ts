/**
 * Ordinary dead letters kept up to date with the source (adversary finding adv16b-stale-letter-cancelled). A letter
 * rebuilt from one document's row (a business refusal, a mapping error …) replays that row as it was read, without
 * reading the source again; a document cancelled meanwhile would be booked by the replay. So a run that reads the
 * document when the condition drops it, never posted, withdraws its letter (resolved "withdrawn: …", by
 * WITHDRAWN_BY) exactly as held letters are (held-letters.ts), and a later replay is refused as already resolved.
 */
import type { Logger } from "../ports.ts";
import type { DeadLetter } from "../state/records.ts";
import { heldLetters, partKeys, type HeldLetters } from "./held-letters.ts";

type Resolve = (id: string, resolution: { reason: string; by: string }) => Promise<unknown>;

/**
 * Letters a cancellation never settles: held ones (held-letters.ts), and those about a document already in the target
 * (posted without an image, a member not followed, a change reported by policy, another document under its key).
 */
const KEPT = new Set(["period_closed", "change_unknown", "change_unfollowed", "changed_after_write", "cancelled_after_write", "conflict"]);

/**
 * The run's view of open letters (RunDeps.held): the held ones as they are, and the ordinary ones (`ordinary`: every
 * open letter that is not a held period_closed one) withdrawn too when their document is dropped before it was posted.
 */
export function withStaleLetters(held: HeldLetters | undefined, ordinary: DeadLetter[], resolve: Resolve, logger: Logger): HeldLetters | undefined {
  const stale = heldLetters(
    ordinary.filter((l) => !KEPT.has(l.error?.code ?? "")),
    resolve,
    logger,
  );
  if (!stale) return held;
  const inDoubt = new Set(ordinary.filter((l) => l.error?.code === "write_unknown").flatMap(letterKeys));
  // Everything else is the held letters' own behaviour (or nothing when no letter is held).
  return {
    member: () => undefined,
    unchanged: async () => {},
    planned: async () => {},
    reversalHeld: () => undefined,
    ...held,
    // An open letter of an unknown write (write_unknown: the write may be in the target) keeps its key from every
    // correction, its own document's too (other lines under the key would be answered "duplicate" and taken as
    // written: adv16c-pending-key-reuse); other open correction letters from other documents' corrections.
    heldByOther: (key, sourceId) => inDoubt.has(key) || (held?.heldByOther(key, sourceId) ?? false) || stale.heldByOther(key, sourceId),
    dropped: async (sourceId) => [...((await held?.dropped(sourceId)) ?? []), ...(await stale.dropped(sourceId))],
  };
}

/** The keys a letter names: its own and its planned parts'. */
function letterKeys(letter: DeadLetter): string[] {
  return letter.externalKey ? [letter.externalKey, ...partKeys(letter)] : partKeys(letter);
}
