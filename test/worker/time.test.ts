import { describe, expect, it } from "vitest";
import { md5Hex } from "../../shared/util/md5.ts";
import { formatInZone, parseInZone } from "../../shared/util/time.ts";

// The core's platform-free helpers must behave identically inside workerd.
describe("core helpers inside workerd", () => {
  it("zone arithmetic uses the runtime's Intl data", () => {
    const ms = Date.UTC(2024, 6, 1, 12, 0, 0);
    expect(formatInZone(ms)).toBe("2024-07-01 20:00:00");
    expect(formatInZone(ms, "HH:mm", "America/New_York")).toBe("08:00");
    expect(parseInZone("2024-07-01 20:00:00.250")).toBe(ms + 250);
  });

  it("md5 matches the RFC vector", () => {
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
  });
});
