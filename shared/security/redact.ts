/**
 * The one redactor: every secret the deployment knows (env values by name, stored and rotated tokens,
 * credential headers the connectors actually send, e.g. the T+ sid cookie and the on-prem Authorization
 * blob) is replaced by `***` before anything is stored or emitted (run records, dead letters, API and
 * dashboard responses, logs, alert bodies, the Action's summary and annotations).
 *
 * Rules:
 * - Values shorter than MIN_SECRET_LENGTH are ignored: they would match ordinary text (amounts, codes).
 * - Each secret is matched in the forms it can take in an output: as is, JSON-escaped, URL-encoded,
 *   form-encoded and HTML-escaped; multi-line values (a PEM key) line by line too.
 * - Redact, then truncate (`cut`): cutting first can leave the prefix of a secret that crosses the cut.
 *   `cut` also masks a trailing fragment that is the start of a known secret.
 */

export const REDACTED = "***";
export const MIN_SECRET_LENGTH = 6;
/** A cut fragment this long at the end of a text (or before "…") that starts a known secret is masked. */
const FRAGMENT_MIN = 10;

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

/** The forms a secret can take once it is inside JSON, a URL, a form body or HTML. */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  forms.add(JSON.stringify(value).slice(1, -1));
  forms.add(encodeURIComponent(value));
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  forms.add(htmlEscape(value));
  forms.add(htmlEscape(JSON.stringify(value).slice(1, -1)));
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | null = null;
  private forms: string[] = [];
  private readonly listeners: Array<(secret: string) => void> = [];

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
      if (c.length < MIN_SECRET_LENGTH || this.secrets.has(c)) continue;
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
    const forms = new Set<string>();
    for (const s of this.secrets) for (const f of secretForms(s)) forms.add(f);
    // Longest first, so a secret containing another is replaced whole.
    this.forms = [...forms].sort((a, b) => b.length - a.length);
    this.pattern = new RegExp(this.forms.map(escapeRegExp).join("|"), "g");
    return this.pattern;
  }

  redact(text: string): string {
    if (typeof text !== "string" || text.length < MIN_SECRET_LENGTH) return text;
    const pattern = this.compiled();
    return pattern ? this.maskCutFragments(text.replace(pattern, REDACTED)) : text;
  }

  /**
   * A connector that cut its message before this redactor saw it (e.g. at 160 characters, with "…") can
   * leave the start of a secret it did not know (a derived Authorization blob). Masks the start of a known
   * secret (at least FRAGMENT_MIN characters) that runs up to the end of the text, a cut mark or a closing quote.
   */
  private maskCutFragments(text: string): string {
    let out = text;
    for (const form of this.forms) {
      if (form.length <= FRAGMENT_MIN) continue;
      const head = form.slice(0, FRAGMENT_MIN);
      let at = out.indexOf(head);
      while (at !== -1) {
        let n = FRAGMENT_MIN;
        while (n < form.length && at + n < out.length && out[at + n] === form[n]) n++;
        const next = out.slice(at + n, at + n + 3);
        // End of text, a cut mark, or the end of a JSON string holding a cut snippet.
        if (n < form.length && (at + n === out.length || next.startsWith("…") || next === "..." || next.startsWith('"'))) {
          out = out.slice(0, at) + REDACTED + out.slice(at + n);
          at = out.indexOf(head, at + REDACTED.length);
        } else at = out.indexOf(head, at + 1);
      }
    }
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
          out = out.slice(0, out.length - n) + REDACTED;
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
