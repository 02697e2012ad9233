/**
 * A conservative strength estimate for a bearer token (SYNC_API_TOKEN): length and distinct characters are
 * not enough ("Password1!" three times has 32 characters and 9 distinct ones). The estimate charges each
 * character log2(pool) bits, where the pool is the character classes the token uses (16 for pure hex), and
 * ~1 bit for a character that continues a run (same or next/previous code: "aaaa", "0123", "fedc": from the fourth character) or a
 * repeat of an earlier stretch of 4+ characters (one reference costs ~log2(position)+4 bits). Tokens with a
 * repeated period are refused outright.
 */

/**
 * 128 bits is the aim (`openssl rand -hex 16` and longer); the estimate charges a random token a few bits for
 * chance runs and repeats, so the bar sits slightly lower. Human patterns estimate far below (26–85 bits).
 */
export const MIN_TOKEN_BITS = 120;

function poolSize(token: string): number {
  if (/^[0-9a-f]+$/.test(token) || /^[0-9A-F]+$/.test(token)) return 16;
  let pool = 0;
  if (/[a-z]/.test(token)) pool += 26;
  if (/[A-Z]/.test(token)) pool += 26;
  if (/[0-9]/.test(token)) pool += 10;
  if (/[^A-Za-z0-9]/.test(token)) pool += 33;
  return Math.max(pool, 2);
}

/** The smallest period p (token = its first p characters repeated, the last copy possibly cut), or null. */
export function repeatedPeriod(token: string): number | null {
  for (let p = 1; p <= token.length / 2; p++) {
    let periodic = true;
    for (let i = p; i < token.length && periodic; i++) periodic = token[i] === token[i - p];
    if (periodic) return p;
  }
  return null;
}

export function estimateTokenBits(token: string): number {
  const chars = Array.from(token);
  const perChar = Math.log2(poolSize(token));
  let bits = 0;
  let i = 0;
  while (i < chars.length) {
    // The longest earlier stretch (4+ characters) this position repeats.
    let longest = 0;
    for (let start = 0; start < i; start++) {
      let n = 0;
      while (i + n < chars.length && start + n < i && chars[start + n] === chars[i + n]) n++;
      if (n > longest) longest = n;
    }
    if (longest >= 4) {
      bits += Math.log2(i + 1) + 4;
      i += longest;
      continue;
    }
    // The fourth and later characters of a run with one step (same, next or previous code: "aaaa", "0123",
    // "dcba") are cheap; shorter runs occur by chance in random tokens.
    const at = (k: number) => chars[k]!.codePointAt(0)!;
    const step = (k: number) => (k >= 1 ? at(k) - at(k - 1) : 9);
    const inRun = i >= 3 && Math.abs(step(i)) <= 1 && step(i) === step(i - 1) && step(i) === step(i - 2);
    bits += inRun ? 1 : perChar;
    i++;
  }
  return bits;
}

/** Why a token is too weak to stand offline guessing, or null. Never names the value. */
export function tokenWeakness(token: string, minLength: number): string | null {
  if (token.length < minLength) return `it has ${token.length} characters; use at least ${minLength}`;
  if (repeatedPeriod(token) !== null) return "it repeats a short pattern; use a random value";
  if (new Set(token).size < 8) return "it repeats too few different characters; use a random value";
  const bits = Math.floor(estimateTokenBits(token));
  if (bits < MIN_TOKEN_BITS)
    return `its estimated strength is about ${bits} bits (runs, repeats and few character kinds count little); use a random value (\`openssl rand -hex 32\`)`;
  return null;
}
