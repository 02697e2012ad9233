/**
 * The KV key scheme, in one place. The Worker (KV binding), the CLI (file store) and the Action
 * (KV REST API) all read and write through these builders, so a backfill from the CLI and a cron run
 * in the Worker see the same state.
 *
 *   wm:<flow>                         checkpoint: watermark + mid-run resume cursor
 *   run:<flow>:<runId>                run record (expires after a TTL)
 *   ledger:<flow>:<segment>           ledger segment ("s…", one per written page) or pack ("p…", compacted)
 *   dl:<flow>:<segment>               dead-letter segment (one per addDeadLetters call)
 *   tok:<system>                      rotating credentials of one system
 *   ref:<table>:meta                  reference table manifest (version, chunk count, row count)
 *   ref:<table>:<version>-<n>         reference table chunk n of that version
 *   ref:<table>:progress              a source refresh cut off by the subrequest budget, resumed next run
 *   alert:<flow>                      alert state: last message, failure streak, grouped count (shared/alerts)
 *
 * `:` separates parts, so names that go into keys are restricted to characters without `:`.
 */
import { ConfigError } from "../errors.ts";

/** Flow ids, table names and system names: what may appear between the `:` separators. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Run ids come from scheduledTime or a request; a little more liberal but still key-safe. */
const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,159}$/;
/** Segment ids this module generates: kind letter, 13-digit epoch ms, nonce. */
const SEGMENT_PATTERN = /^([sp])(\d{13})-([a-z0-9]{4,16})$/;

export const KEY_PREFIX = {
  watermark: "wm:",
  run: "run:",
  ledger: "ledger:",
  deadLetter: "dl:",
  token: "tok:",
  reference: "ref:",
  alert: "alert:",
} as const;

function checkName(kind: string, value: string): string {
  if (typeof value !== "string" || !NAME_PATTERN.test(value)) {
    throw new ConfigError(`Invalid ${kind} ${JSON.stringify(value)}`, {
      hint: `A ${kind} must be 1–128 characters of letters, digits, '_', '.', '-' and start with a letter or digit (it becomes part of a KV key).`,
      details: { kind, value },
    });
  }
  return value;
}

export function checkFlowId(flow: string): string {
  return checkName("flow id", flow);
}

export function checkRunId(runId: string): string {
  if (typeof runId !== "string" || !RUN_ID_PATTERN.test(runId)) {
    throw new ConfigError(`Invalid run id ${JSON.stringify(runId)}`, {
      hint: "A run id must be 1–160 characters of letters, digits and '_', '.', ':', '+', '-' (see makeRunId).",
      details: { runId },
    });
  }
  return runId;
}

export const stateKeys = {
  watermark: (flow: string) => `${KEY_PREFIX.watermark}${checkFlowId(flow)}`,
  run: (flow: string, runId: string) => `${KEY_PREFIX.run}${checkFlowId(flow)}:${checkRunId(runId)}`,
  runPrefix: (flow?: string) => (flow === undefined ? KEY_PREFIX.run : `${KEY_PREFIX.run}${checkFlowId(flow)}:`),
  ledger: (flow: string, segment: string) => `${KEY_PREFIX.ledger}${checkFlowId(flow)}:${segment}`,
  ledgerPrefix: (flow: string) => `${KEY_PREFIX.ledger}${checkFlowId(flow)}:`,
  deadLetter: (flow: string, segment: string) => `${KEY_PREFIX.deadLetter}${checkFlowId(flow)}:${segment}`,
  deadLetterPrefix: (flow?: string) => (flow === undefined ? KEY_PREFIX.deadLetter : `${KEY_PREFIX.deadLetter}${checkFlowId(flow)}:`),
  token: (system: string) => `${KEY_PREFIX.token}${checkName("system name", system)}`,
  referenceMeta: (table: string) => `${KEY_PREFIX.reference}${checkName("reference table name", table)}:meta`,
  referenceChunk: (table: string, version: string, index: number) => `${KEY_PREFIX.reference}${checkName("reference table name", table)}:${version}-${index}`,
  referenceProgress: (table: string) => `${KEY_PREFIX.reference}${checkName("reference table name", table)}:progress`,
  referencePrefix: (table?: string) => (table === undefined ? KEY_PREFIX.reference : `${KEY_PREFIX.reference}${checkName("reference table name", table)}:`),
  alert: (flow: string) => `${KEY_PREFIX.alert}${checkFlowId(flow)}`,
};

/** Splits `<prefix><flow>:<rest>` keys (run, ledger, dl) back into flow and rest; null when the key is not of that shape. */
export function splitFlowKey(prefix: string, key: string): { flow: string; rest: string } | null {
  if (!key.startsWith(prefix)) return null;
  const body = key.slice(prefix.length);
  const colon = body.indexOf(":");
  if (colon <= 0) return null;
  return { flow: body.slice(0, colon), rest: body.slice(colon + 1) };
}

export type SegmentKind = "s" | "p";

export interface SegmentId {
  id: string;
  kind: SegmentKind;
  /** Epoch ms when the segment was created; orders segments in key order. */
  createdAt: number;
}

function nonce(): string {
  const bytes = new Uint8Array(5);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("");
}

/**
 * A fresh segment id: `s` (page segment) or `p` (pack), then the 13-digit creation time so key order is
 * time order, then a random nonce so two hosts never collide.
 */
export function newSegmentId(kind: SegmentKind, now: number): string {
  return `${kind}${String(Math.max(0, Math.floor(now))).padStart(13, "0")}-${nonce()}`;
}

export function parseSegmentId(id: string): SegmentId | null {
  const m = SEGMENT_PATTERN.exec(id);
  if (!m) return null;
  return { id, kind: m[1] as SegmentKind, createdAt: Number(m[2]) };
}

/**
 * A run id that sorts in time order: `20240701T120000000Z-cron`. listRuns orders keys by run id, so ids
 * from here come back newest first.
 */
export function makeRunId(startedAt: number, suffix = "run"): string {
  const iso = new Date(startedAt).toISOString(); // 2024-07-01T12:00:00.000Z
  const compact = iso.replace(/[-:.]/g, "");
  const tail = suffix.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 60) || "run";
  return `${compact}-${tail}`;
}

/** Dead-letter ids carry flow, segment and position, so one read finds the item: `<flow>~<segment>~<n>`. */
export function makeDeadLetterId(flow: string, segment: string, index: number): string {
  return `${flow}~${segment}~${index}`;
}

export function parseDeadLetterId(id: string): { flow: string; segment: string; index: number } {
  const parts = typeof id === "string" ? id.split("~") : [];
  const [flow, segment, index] = parts;
  if (parts.length !== 3 || !flow || !segment || !index || !/^\d{1,6}$/.test(index) || !NAME_PATTERN.test(flow) || !parseSegmentId(segment)) {
    throw new ConfigError(`Invalid dead letter id ${JSON.stringify(id)}`, {
      hint: "Dead letter ids look like '<flow>~<segment>~<n>'; take them from listDeadLetters.",
      details: { id },
    });
  }
  return { flow, segment, index: Number(index) };
}
