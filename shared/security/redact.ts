/**
 * The one redactor: every secret the deployment knows (env values by name, stored and rotated tokens,
 * credential headers the connectors actually send, e.g. the T+ sid cookie and the on-prem Authorization
 * blob) is replaced by `***` before anything is stored or emitted (run records, dead letters, API and
 * dashboard responses, logs, alert bodies, the Action's summary and annotations).
 *
 * Rules:
 * - Values shorter than MIN_SECRET_LENGTH would match ordinary text (amounts, codes): they are masked only
 *   after a credential word (`password k9#Zq`, `"pwd":"k9#Zq"`) or, mixing 3+ character classes, as a whole word;
 *   config checks warn about them (shortSecretNames).
 * - Each secret is matched in the forms it can take in an output, character by character and mixed: as is,
 *   JSON-escaped (incl. `\uXXXX` and `\/`), URL-encoded (either hex case), form-encoded, HTML-escaped, and
 *   base64/base64url at each byte alignment; multi-line values (a PEM key) line by line too.
 * - A run of at least PREFIX_MIN characters of a secret's start that ends at a non-alphanumeric character
 *   or the end of the text (an upstream or a connector cut it) is masked too.
 * - Redact, then truncate (`cut`): cutting first can leave the prefix of a secret that crosses the cut.
 */

export const REDACTED = "***";
export const MIN_SECRET_LENGTH = 6;

/**
 * Env names whose values are secrets. SYNC_API_TOKEN, ALERT_SECRET and ALERT_WEBHOOK_URL (which carries
 * the robot's token) included. The pattern is the one the security review proposed, plus WEBHOOK and API_KEY.
 */
export const SECRET_ENV_NAME = /(SECRET|TOKEN|PASSWORD|PRIVATE_KEY|AUTH_DATA|SESSION_ID|WEBHOOK|API_KEY|CREDENTIAL)/i;

/** Request headers that carry credentials in the vendors' protocols (T+ appSecret/openToken/sid, KIS AuthData …). */
export const CREDENTIAL_HEADERS = ["authorization", "cookie", "appsecret", "opentoken", "kis-authdata", "x-api-key", "proxy-authorization"];
/** Query and form parameters that carry credentials (KIS ?access_token=, the JST form body). */
export const CREDENTIAL_PARAMS = ["access_token", "refresh_token", "app_secret", "appsecret", "client_secret", "token", "sid", "session_id", "auth_data"];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const htmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
/** A run of at least this many characters of a secret's start, ended by a non-alphanumeric character or the end, is masked. */
export const PREFIX_MIN = 8;
/** Secrets shorter than MIN_SECRET_LENGTH but at least this long are masked in credential contexts (`password=…`). */
export const SHORT_SECRET_MIN = 2;

/** Base64 of the secret at each of the three byte alignments (the characters that depend on the secret only), standard and url alphabets. */
function base64Forms(value: string): string[] {
  const bytes = new TextEncoder().encode(value);
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const buf = new Uint8Array(k + bytes.length);
    buf.set(bytes, k);
    let bin = "";
    for (const b of buf) bin += String.fromCharCode(b);
    const b64 = btoa(bin).replace(/=+$/, "");
    // Characters 0..head-1 carry bits of the k bytes before the secret; after `full`, bits of what follows it.
    const head = k === 0 ? 0 : k === 1 ? 2 : 3;
    const full = Math.floor((buf.length * 8) / 6);
    const core = b64.slice(head, full);
    if (core.length >= MIN_SECRET_LENGTH) out.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return out;
}

/** The forms a secret can take once it is inside JSON, a URL, a form body, HTML or base64 (literal forms, for tests and `cut`). */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/\//g, "\\/"));
  forms.add(value.replace(/[^A-Za-z0-9]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  forms.add(encodeURIComponent(value));
  forms.add(encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  forms.add(htmlEscape(value));
  forms.add(htmlEscape(json));
  for (const b of base64Forms(value)) forms.add(b);
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

const hexClass = (hex: string) => [...hex].map((h) => (/[a-f]/i.test(h) ? `[${h.toLowerCase()}${h.toUpperCase()}]` : h)).join("");
const ENTITIES: Record<string, string[]> = { "&": ["&amp;"], "<": ["&lt;"], ">": ["&gt;"], '"': ["&quot;"], "'": ["&apos;"] };

/**
 * A regular expression for one character in any encoding an output can give it, mixed freely within one
 * secret: as is, JSON-escaped (`\"`, `\\`), backslash-escaped (`\/` of PHP json_encode), `\uXXXX` in either case
 * (.NET System.Text.Json escapes + ' " < > &; Gson escapes = < > & '), %XX in either case (.NET HttpUtility
 * gives lower case), `+` for a space (forms), and HTML entities (named, decimal, hex).
 */
function charPattern(c: string): string {
  if (/[A-Za-z0-9]/.test(c)) return c;
  const alts = new Set<string>([escapeRegExp(c)]);
  const code = c.codePointAt(0)!;
  const json = JSON.stringify(c).slice(1, -1);
  if (json !== c) alts.add(escapeRegExp(json));
  if (code < 0x10000) alts.add(`\\\\u${hexClass(code.toString(16).padStart(4, "0"))}`);
  alts.add(`\\\\${escapeRegExp(c)}`);
  const pct = [...new TextEncoder().encode(c)].map((b) => `%${hexClass(b.toString(16).padStart(2, "0").toUpperCase())}`).join("");
  alts.add(pct);
  if (c === " ") alts.add("\\+");
  const entities = [...(ENTITIES[c] ?? []), `&#0*${code};`, `&#[xX]0*${hexClass(code.toString(16))};`];
  for (const e of entities) {
    alts.add(e);
    alts.add(`\\\\${e}`); // HTML escape of a JSON escape: \&quot;
  }
  return `(?:${[...alts].join("|")})`;
}

const secretPattern = (value: string): string[] => Array.from(value, charPattern);

/**
 * The secret's start, at least PREFIX_MIN characters, ended where the text stops continuing it, at a token
 * boundary, and only where the secret itself goes on with a letter or digit: a prefix ending where the secret
 * has a separator is a word of it ("dashboard" of "dashboard-browser-…", "x-app" of "x-app-secret"), which
 * ordinary text uses too. T(i) = continue with character i, or stop here.
 */
function prefixPattern(value: string): string | null {
  const raw = Array.from(value);
  const chars = secretPattern(value);
  if (chars.length <= PREFIX_MIN) return null;
  // Ended by a cut mark, the end, or a character that does not continue a token (`-_.~` continue one).
  const boundary = "(?=\\.\\.\\.|…|$|[^A-Za-z0-9_.~-])";
  const stop = (i: number) => (/[A-Za-z0-9]/.test(raw[i] ?? "") ? boundary : "(?!)");
  let tail = stop(chars.length - 1);
  for (let i = chars.length - 2; i >= PREFIX_MIN; i--) tail = `(?:${chars[i]}${tail}|${stop(i)})`;
  return `${chars.slice(0, PREFIX_MIN).join("")}${tail}`;
}

/** Words that introduce a credential: a short secret right after one of these is masked. */
const CREDENTIAL_CONTEXT = "(?:pass(?:word|wd)?|pwd|secret|token|key|sid|auth[a-z_]*|credentials?)[\"']?\\s*(?:[:=]|is)?\\s*[\"']?";

export class Redactor {
  private readonly secrets = new Set<string>();
  /** Secrets under MIN_SECRET_LENGTH: masked only in a credential context (or, mixing 3+ character classes, as a whole word). */
  private readonly shortSecrets = new Set<string>();
  private pattern: RegExp | null = null;
  private shortPattern: RegExp | null = null;
  private forms: string[] = [];
  private readonly listeners: Array<(secret: string) => void> = [];

  /** `mask` replaces each secret (the CLI prints `[redacted]`, everything else `***`). */
  private readonly mask: string;

  constructor(mask: string = REDACTED) {
    this.mask = mask;
  }

  /** Every env value whose name looks secret (SECRET_ENV_NAME). */
  static fromEnv(env: Record<string, string | undefined>, extra: Iterable<string | undefined> = []): Redactor {
    const r = new Redactor();
    r.addEnv(env);
    for (const v of extra) r.add(v);
    return r;
  }

  addEnv(env: Record<string, string | undefined>): this {
    for (const [name, value] of Object.entries(env)) if (value && SECRET_ENV_NAME.test(name)) this.add(value);
    return this;
  }

  /** Called for every new secret (the Action passes core.setSecret). Runs at once for the secrets known so far. */
  onSecret(listener: (secret: string) => void): this {
    this.listeners.push(listener);
    for (const s of this.secrets) listener(s);
    return this;
  }

  /** Registers a secret (and, for multi-line values, each line; for `Bearer x`/`Basic x`, the credential part). */
  add(value: string | undefined | null): this {
    if (typeof value !== "string") return this;
    const candidates = new Set<string>([value, value.trim()]);
    if (value.includes("\n")) for (const line of value.split(/\r?\n/)) candidates.add(line.trim());
    const scheme = /^(?:Bearer|Basic|Token|OAuth)\s+(.+)$/i.exec(value.trim());
    if (scheme) candidates.add(scheme[1]!.trim());
    for (const c of candidates) {
      if (c.length < MIN_SECRET_LENGTH) {
        if (c.length >= SHORT_SECRET_MIN && c === c.trim() && !this.shortSecrets.has(c)) {
          this.shortSecrets.add(c);
          this.shortPattern = null;
        }
        continue;
      }
      if (this.secrets.has(c)) continue;
      this.secrets.add(c);
      this.pattern = null;
      for (const l of this.listeners) l(c);
    }
    return this;
  }

  /** Registers every string leaf of a value (a stored token record, a token endpoint's answer). */
  addAll(value: unknown): this {
    if (typeof value === "string") this.add(value);
    else if (Array.isArray(value)) for (const v of value) this.addAll(v);
    else if (value && typeof value === "object") for (const v of Object.values(value)) this.addAll(v);
    return this;
  }

  /** Registers the credentials of an outgoing request: credential headers, cookie values, credential params. */
  addRequest(url: string, headers: Headers, body: unknown): this {
    headers.forEach((value, name) => {
      const n = name.toLowerCase();
      if (!CREDENTIAL_HEADERS.includes(n)) return;
      this.add(value);
      if (n === "cookie") for (const part of value.split(";")) this.add(part.slice(part.indexOf("=") + 1));
    });
    try {
      for (const [k, v] of new URL(url).searchParams) if (CREDENTIAL_PARAMS.includes(k.toLowerCase())) this.add(v);
    } catch {
      // not a URL: nothing to learn
    }
    if (typeof body === "string" && body.includes("=") && !body.trimStart().startsWith("{")) {
      for (const [k, v] of new URLSearchParams(body)) if (CREDENTIAL_PARAMS.includes(k.toLowerCase())) this.add(v);
    }
    return this;
  }

  get size(): number {
    return this.secrets.size;
  }

  /** The registered secrets (for tests and the security report). */
  known(): string[] {
    return [...this.secrets];
  }

  private compiled(): RegExp | null {
    if (this.pattern) return this.pattern;
    if (this.secrets.size === 0) return null;
    const literal = new Set<string>();
    const whole = new Map<string, number>();
    const prefixes: string[] = [];
    for (const s of this.secrets) {
      for (const f of secretForms(s)) literal.add(f);
      // Each character in any of its encodings; base64 forms are their own secrets.
      for (const f of [s, ...base64Forms(s)]) whole.set(secretPattern(f).join(""), f.length);
      const p = prefixPattern(s);
      if (p) prefixes.push(p);
    }
    this.forms = [...literal].sort((a, b) => b.length - a.length);
    // Longest first, so a secret containing another is replaced whole; whole secrets before cut prefixes.
    const alternatives = [...whole.entries()].sort((a, b) => b[1] - a[1]).map(([p]) => p);
    this.pattern = new RegExp([...alternatives, ...prefixes].join("|"), "g");
    return this.pattern;
  }

  private compiledShort(): RegExp | null {
    if (this.shortPattern) return this.shortPattern;
    if (this.shortSecrets.size === 0) return null;
    const parts: string[] = [];
    for (const s of [...this.shortSecrets].sort((a, b) => b.length - a.length)) {
      const body = secretPattern(s).join("");
      parts.push(`(?<=${CREDENTIAL_CONTEXT})${body}(?![A-Za-z0-9])`);
      // A short value mixing three character classes (k9#Zq) does not occur in ordinary text: masked as a whole word.
      const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(s)).length;
      if (classes >= 3) parts.push(`(?<![A-Za-z0-9])${body}(?![A-Za-z0-9])`);
    }
    this.shortPattern = new RegExp(parts.join("|"), "gi");
    return this.shortPattern;
  }

  redact(text: string): string {
    if (typeof text !== "string" || text.length < SHORT_SECRET_MIN) return text;
    const pattern = this.compiled();
    let out = pattern ? text.replace(pattern, this.mask) : text;
    const short = this.compiledShort();
    if (short) out = out.replace(short, this.mask);
    return out;
  }

  /** Redact, then cut to `max` characters; a trailing fragment that starts a known secret is masked too. */
  cut(text: string, max: number): string {
    const redacted = this.redact(text);
    if (redacted.length <= max) return redacted;
    let out = redacted.slice(0, max);
    this.compiled();
    for (const form of this.forms) {
      for (let n = Math.min(form.length - 1, out.length); n >= 4; n--) {
        if (out.endsWith(form.slice(0, n))) {
          out = out.slice(0, out.length - n) + this.mask;
          return `${out}…`;
        }
      }
    }
    return `${out}…`;
  }

  /** A copy of a value with every string (keys too) redacted; Errors become plain objects of their fields. */
  deep<T>(value: T): T {
    return this.walk(value, 0) as T;
  }

  private walk(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.redact(value);
    if (value === null || typeof value !== "object" || depth > 64) return value;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, depth + 1));
    if (value instanceof Error) {
      const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
      for (const key of Object.getOwnPropertyNames(value)) copy[key] = this.walk((value as unknown as Record<string, unknown>)[key], depth + 1);
      return copy;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value; // Date, Map, typed arrays: no text to redact
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.walk(v, depth + 1);
    return out;
  }
}

/** Names of secret-looking env values too short to be masked everywhere (config checks warn about them). */
export function shortSecretNames(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_ENV_NAME.test(name) && typeof value === "string" && value.trim().length > 0 && value.trim().length < MIN_SECRET_LENGTH)
    .map(([name]) => name);
}
