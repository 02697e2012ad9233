import { describe, expect, it } from "vitest";
import { nextCronTime } from "../../shared/flow/cron-next.ts";

const at = (iso: string) => Date.parse(iso);

describe("nextCronTime", () => {
  it("steps, fixed times, ranges and weekdays", () => {
    expect(nextCronTime("*/30 * * * *", at("2024-06-20T10:05:00Z"))).toBe(at("2024-06-20T10:30:00Z"));
    expect(nextCronTime("*/30 * * * *", at("2024-06-20T10:30:00Z"))).toBe(at("2024-06-20T11:00:00Z"));
    expect(nextCronTime("10 1 * * *", at("2024-06-20T02:00:00Z"))).toBe(at("2024-06-21T01:10:00Z"));
    expect(nextCronTime("0 9 * * MON-FRI", at("2024-06-21T10:00:00Z"))).toBe(at("2024-06-24T09:00:00Z"));
    expect(nextCronTime("0 0 1 JAN *", at("2024-06-21T10:00:00Z"))).toBe(at("2025-01-01T00:00:00Z"));
  });
  it("returns null for what it cannot expand", () => {
    expect(nextCronTime("0 0 L * *", 0)).toBeNull();
    expect(nextCronTime("bad", 0)).toBeNull();
  });
});
