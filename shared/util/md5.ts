/**
 * MD5 (RFC 1321) over UTF-8 text or bytes, as lowercase hex.
 * WebCrypto has no MD5, yet Jushuitan signs with it and T+ hashes credentials with it,
 * so the core carries this small implementation (tested against the RFC vectors).
 */

const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Reused between calls (hashing is synchronous): contentHash runs once per mapped document, so no buffer per call. */
let scratch = new Uint8Array(4096);
const words = new Int32Array(16);

/** Inputs past this size get a buffer of their own (not kept). */
const SCRATCH_MAX = 1 << 20;

/** The input as UTF-8 in a buffer (the scratch one unless large) with MD5's padding and length. */
function pad(input: string | Uint8Array): { buffer: Uint8Array; paddedLength: number } {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8.
  const most = (typeof input === "string" ? input.length * 3 : input.length) + 72;
  if (most <= SCRATCH_MAX && scratch.length < most) scratch = new Uint8Array(Math.max(most, Math.min(SCRATCH_MAX, scratch.length * 2)));
  const buffer = most <= SCRATCH_MAX ? scratch : new Uint8Array(most);
  let length: number;
  if (typeof input === "string") length = encoder.encodeInto(input, buffer).written;
  else {
    buffer.set(input);
    length = input.length;
  }
  // Message + 0x80 + zero padding to 56 mod 64, then the 64-bit little-endian bit length.
  const paddedLength = (((length + 8) >>> 6) + 1) << 6;
  buffer.fill(0, length, paddedLength);
  buffer[length] = 0x80;
  const bitsLow = (length * 8) >>> 0;
  const bitsHigh = Math.floor((length * 8) / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    buffer[paddedLength - 8 + i] = (bitsLow >>> (8 * i)) & 0xff;
    buffer[paddedLength - 4 + i] = (bitsHigh >>> (8 * i)) & 0xff;
  }
  return { buffer, paddedLength };
}

export function md5Hex(input: string | Uint8Array): string {
  const { buffer, paddedLength } = pad(input);
  const m = words;

  let a0 = 0x67452301 | 0;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476 | 0;
  for (let offset = 0; offset < paddedLength; offset += 64) {
    for (let j = 0, o = offset; j < 16; j++, o += 4) m[j] = buffer[o]! | (buffer[o + 1]! << 8) | (buffer[o + 2]! << 16) | (buffer[o + 3]! << 24);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const shift = SHIFTS[(i >>> 4) * 4 + (i & 3)]!;
      const sum = (a + f + K[i]! + m[g]!) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }

  let out = "";
  for (const word of [a0, b0, c0, d0]) {
    out += HEX[word & 0xff]! + HEX[(word >>> 8) & 0xff]! + HEX[(word >>> 16) & 0xff]! + HEX[(word >>> 24) & 0xff]!;
  }
  return out;
}
