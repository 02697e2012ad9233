/**
 * The dead-letter half of the chaos verdict: every letter must be for a document that hit a permanent fault, and
 * no letter may be filed twice. "Twice" means the same key for the same cause: one key may legitimately carry two
 * letters with different causes (seed 9053: a merged day's group refused for one reason, and the same key's
 * later unit for another), and counting per key alone called that a duplicate filing.
 */
export interface FiledLetter {
  /** `<system>:<externalKey or sourceId>`. */
  key: string;
  code: string;
}

/** `mayRepeat`: keys whose document changed while the runs went on: each version may carry its own letter. */
export function judgeLetters(
  letters: readonly FiledLetter[],
  permanent: ReadonlySet<string>,
  mayRepeat: ReadonlySet<string> = new Set(),
): { unexpected: number; filedKeys: Set<string>; details: string[] } {
  const details: string[] = [];
  let unexpected = 0;
  const perCause = new Map<string, { key: string; code: string; count: number }>();
  for (const l of letters) {
    const id = `${l.key}\u0000${l.code}`;
    const entry = perCause.get(id) ?? { key: l.key, code: l.code, count: 0 };
    entry.count++;
    perCause.set(id, entry);
  }
  for (const { key, code, count } of perCause.values()) {
    if (!permanent.has(key)) {
      unexpected += count;
      details.push(`unexpected dead letter ${key} (${code})${count > 1 ? ` ×${count}` : ""}`);
    } else if (count > 1 && !mayRepeat.has(key)) {
      unexpected += count - 1;
      details.push(`dead letter ${key} (${code}) filed ${count} times`);
    }
  }
  return { unexpected, filedKeys: new Set(letters.map((l) => l.key)), details };
}
