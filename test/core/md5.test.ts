import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md5Hex } from "../../shared/util/md5.ts";

describe("md5Hex", () => {
  it("matches the RFC 1321 test suite", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex("a")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5Hex("abcdefghijklmnopqrstuvwxyz")).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(md5Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890")).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("agrees with node:crypto on UTF-8 text of every length around the block boundaries", () => {
    for (let n = 0; n < 200; n++) {
      const text = "聚水潭a".repeat(n).slice(0, n);
      expect(md5Hex(text)).toBe(createHash("md5").update(text, "utf8").digest("hex"));
    }
  });

  it("hashes raw bytes", () => {
    const bytes = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    expect(md5Hex(bytes)).toBe(createHash("md5").update(bytes).digest("hex"));
  });

  it("gives every input its own digest whatever came before (reused buffer) and past the reused buffer's size", () => {
    const inputs = ["x".repeat(5000), "short", "聚".repeat(400_000), "", "y".repeat(63), "z".repeat(2_000_000), "abc"];
    for (const text of inputs) expect(md5Hex(text)).toBe(createHash("md5").update(text, "utf8").digest("hex"));
  });
});
