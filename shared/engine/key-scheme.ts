/**
 * The key scheme of a flow (engine-review finding 11): the templates that make a document's external key
 * (`target.externalKey`, and `operation.keyTemplate` for merged flows). Editing them makes every re-read or
 * edited source document "new" under another key, so it is booked a second time. The scheme's hash is kept in
 * the flow's ledger (`scheme:keys`); a run whose flow has another scheme is refused until the operator accepts
 * the change with ACCEPT_KEY_SCHEME=<flowId>:<hash> (comma-separated for several flows), and the first run after
 * that uses lookback 0 (only what changed after the watermark is read) and says so in the log.
 */
import { BridgeError } from "../errors.ts";
import type { Flow } from "../flow/schema.ts";
import { contentHash } from "./hash.ts";

export const KEY_SCHEME_LEDGER_KEY = "scheme:keys";
/** The record is refreshed daily so ledger retention never drops it. */
export const KEY_SCHEME_REFRESH_MS = 24 * 3_600_000;

export function keySchemeHash(flow: Flow): string {
  const keyTemplate = flow.operation?.type === "merge" ? flow.operation.keyTemplate : null;
  return contentHash({ v: 1, externalKey: flow.target.externalKey, keyTemplate }).slice(0, 16);
}

export function keySchemeAccepted(env: Record<string, string | undefined>, flowId: string, hash: string): boolean {
  return (env.ACCEPT_KEY_SCHEME ?? "")
    .split(",")
    .map((s) => s.trim())
    .includes(`${flowId}:${hash}`);
}

export class KeySchemeChangedError extends BridgeError {
  constructor(flowId: string, hash: string, range: boolean) {
    super(
      "key_scheme_changed",
      `flow ${flowId}: its external key template changed since documents were written (key scheme ${hash}); the run is refused so nothing is booked twice under new keys`,
      {
        hint: range
          ? `run an incremental sync first with ACCEPT_KEY_SCHEME=${flowId}:${hash}, or restore the previous externalKey/keyTemplate`
          : `restore the previous externalKey/keyTemplate, or accept the change with ACCEPT_KEY_SCHEME=${flowId}:${hash} (the next run then reads only what changed after the watermark; documents edited upstream later are booked under the new keys)`,
        details: { flowId, keyScheme: hash },
      },
    );
  }
}

/** Two loaded flows whose keys can coincide for the same target document kind (engine-review finding 3, K1). */
export interface KeyCollision {
  flows: [string, string];
  templates: [string, string];
  kind: string;
  message: string;
}

/** The template a flow's external keys come from: `{_merge_key}` stands for the merge keyTemplate. */
function effectiveKeyTemplate(flow: Flow): string {
  const merge = flow.operation?.type === "merge" ? flow.operation.keyTemplate : undefined;
  return merge === undefined ? flow.target.externalKey : flow.target.externalKey.replace(/\{\s*_merge_key[^{}]*\}/g, merge);
}

/** Target system + document kind: T+ refuses a repeated ExternalCode per voucher type, KIS FBillNo per bill type. */
function documentKind(flow: Flow): string {
  return `${flow.target.type}:${flow.target.operation
    .trim()
    .toLowerCase()
    .replace(/\/create$/, "")}`;
}

const PLACEHOLDER = /\{[^{}]*\}/;
const literalHead = (t: string) => t.split(PLACEHOLDER)[0]!;
const literalTail = (t: string) => t.split(PLACEHOLDER).at(-1)!;

/**
 * Whether two key templates can render the same key. Conservative (a "maybe" counts): keys cannot coincide only when
 * their literal heads differ (neither is a prefix of the other), or, for unmerged flows (merged keys get `-1`, `-S1`
 * suffixes), their literal tails differ likewise, or both are constants that differ.
 */
function templatesMayCollide(a: string, b: string, suffixed: boolean): boolean {
  const constant = (t: string) => !PLACEHOLDER.test(t);
  if (constant(a) && constant(b) && !suffixed) return a === b;
  const ha = literalHead(a);
  const hb = literalHead(b);
  if (!ha.startsWith(hb) && !hb.startsWith(ha)) return false;
  if (!suffixed) {
    const ta = literalTail(a);
    const tb = literalTail(b);
    if (!ta.endsWith(tb) && !tb.endsWith(ta)) return false;
  }
  return true;
}

/** Pairs of flows that write the same target document kind with keys that can coincide. */
export function keyCollisions(flows: readonly Flow[]): KeyCollision[] {
  const out: KeyCollision[] = [];
  for (let i = 0; i < flows.length; i++) {
    for (let j = i + 1; j < flows.length; j++) {
      const a = flows[i]!;
      const b = flows[j]!;
      const kind = documentKind(a);
      if (kind !== documentKind(b)) continue;
      const ta = effectiveKeyTemplate(a);
      const tb = effectiveKeyTemplate(b);
      const suffixed = a.operation?.type === "merge" || b.operation?.type === "merge";
      if (!templatesMayCollide(ta, tb, suffixed)) continue;
      out.push({
        flows: [a.id, b.id],
        templates: [ta, tb],
        kind,
        message: `flows ${a.id} ("${ta}") and ${b.id} ("${tb}") both write ${kind} with keys that can coincide: the second flow's document would be taken for the first's ("already exists")`,
      });
    }
  }
  return out;
}

/** Refuses a set of loaded flows in which two can produce the same key. */
export function assertNoKeyCollisions(flows: readonly Flow[]): void {
  const found = keyCollisions(flows);
  if (found.length === 0) return;
  throw new BridgeError("key_collision", found.map((c) => c.message).join("; "), {
    hint: 'give each flow its own key namespace: a distinct literal prefix in target.externalKey or operation.keyTemplate (e.g. "S2-{io_date_new}-{wms_co_id}"), then accept the key scheme change (ACCEPT_KEY_SCHEME)',
    details: { collisions: found.map(({ flows, templates, kind }) => ({ flows, templates, kind })) },
  });
}

/**
 * The keys of documents that belong to another one (docs/changes.md, docs/merge-policy.md): a merge group's
 * supplements `<group>-S<n>` and issue 16's corrections, `<key>-R<n>` (red reversal), `<key>-B<n>` (blue repost),
 * `<key>-C<n>` (difference, or a merged member's group correction) and `<key>-C<n>-B` (the blue half of a
 * difference that cannot mix signs). Built and parsed here only, so the engine, reconcile, the trace and the
 * chaos verdict agree on what a key belongs to.
 */
export type RelatedKeyKind = "supplement" | "red" | "blue" | "correction" | "correction-blue";

export const relatedKeys = {
  supplement: (group: string, n: number) => `${group}-S${n}`,
  red: (key: string, n: number) => `${key}-R${n}`,
  blue: (key: string, n: number) => `${key}-B${n}`,
  correction: (key: string, n: number) => `${key}-C${n}`,
  /** The blue half of a difference correction `<key>-C<n>`. */
  correctionBlue: (correctionKey: string) => `${correctionKey}-B`,
} as const;

const RELATED_KEY = /^(.+)-(?:(S)(\d+)|(R)(\d+)|(B)(\d+)|(C)(\d+)(-B)?)$/;
const KIND_OF: Record<string, RelatedKeyKind> = { S: "supplement", R: "red", B: "blue", C: "correction" };

export interface RelatedKey {
  /** The document or merge group the key completes or corrects. */
  base: string;
  kind: RelatedKeyKind;
  /** The supplement's or correction's number. */
  n: number;
}

/** What a supplement or correction key belongs to; undefined for an original document's key. */
export function parseRelatedKey(key: string): RelatedKey | undefined {
  const m = RELATED_KEY.exec(key);
  if (!m) return undefined;
  const letter = m[2] ?? m[4] ?? m[6] ?? m[8]!;
  const n = Number(m[3] ?? m[5] ?? m[7] ?? m[9]);
  const kind = letter === "C" && m[10] ? "correction-blue" : KIND_OF[letter]!;
  return { base: m[1]!, kind, n };
}

/** The document or group key a stored key belongs to (the key itself when it is an original's). */
export const baseKeyOf = (key: string): string => parseRelatedKey(key)?.base ?? key;

/** Whether a key is a correction's (issue 16), not an original's or a supplement's. */
export function isCorrectionKey(key: string): boolean {
  const related = parseRelatedKey(key);
  return related !== undefined && related.kind !== "supplement";
}
