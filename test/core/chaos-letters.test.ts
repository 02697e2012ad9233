/** The chaos verdict's dead-letter rule (test/chaos/letters.ts): one letter per key and cause. */
import { describe, expect, it } from "vitest";
import { judgeLetters } from "../chaos/letters.ts";

describe("chaos verdict: dead letters", () => {
  it("two letters for one key with different causes are not a duplicate filing (seed 9053)", () => {
    const verdict = judgeLetters(
      [
        { key: "tplus:SO-2026-12-04-1001", code: "conflict" },
        { key: "tplus:SO-2026-12-04-1001", code: "EXBZ0101" },
      ],
      new Set(["tplus:SO-2026-12-04-1001"]),
    );
    expect(verdict.details).toEqual([]);
    expect(verdict.unexpected).toBe(0);
  });

  it("the same key and cause filed twice is a duplicate; a letter without a permanent fault is unexpected", () => {
    const verdict = judgeLetters(
      [
        { key: "kis:2100647", code: "lookup_miss" },
        { key: "kis:2100647", code: "lookup_miss" },
        { key: "kis:2100648", code: "http_500" },
      ],
      new Set(["kis:2100647"]),
    );
    expect(verdict.unexpected).toBe(2);
    expect(verdict.details).toEqual(["dead letter kis:2100647 (lookup_miss) filed 2 times", "unexpected dead letter kis:2100648 (http_500)"]);
    expect([...verdict.filedKeys].sort()).toEqual(["kis:2100647", "kis:2100648"]);
  });
});
