/**
 * The common interface of target systems (T+, KIS). A write carries a deterministic external key so a
 * repeated or retried write is recognised by the target ("already_exists") instead of booking twice.
 */
import { BridgeError } from "../errors.ts";
import { TPLUS_ERROR } from "./tplus/errors.ts";
import type { ContentLine, ReadBack } from "./content-lines.ts";

export interface TargetWrite {
  operation: string;
  externalKey: string;
  payload: Record<string, unknown>;
}

export interface TargetWriteResult {
  externalKey: string;
  status: "created" | "already_exists";
  targetId?: string;
  targetCode?: string;
  /**
   * The document was found under the key after our own attempt's answer was lost, and is assumed to be what that
   * attempt stored. It may instead be a document stored earlier (after a ledger loss: a group built from fewer
   * members), so the engine reads it back like an "already exists" (engine/verify-existing.ts).
   */
  recovered?: true;
}

export interface TargetWriteOptions {
  /**
   * Check whether the document already exists before creating it. The engine asks for this only when
   * resuming after an unclean stop (a crashed run may have committed documents it never recorded), so the
   * normal path costs one request per document.
   */
  verifyExisting?: boolean;
}

export interface TargetConnector {
  readonly system: "tplus" | "kis";
  write(doc: TargetWrite, options?: TargetWriteOptions): Promise<TargetWriteResult>;
  writeBatch?(docs: TargetWrite[]): Promise<Array<TargetWriteResult | { externalKey: string; error: BridgeError }>>;
  /**
   * Reads the document stored under `doc.externalKey` back and returns its lines next to `doc`'s (engine/verify-existing.ts:
   * an "already_exists" answer is compared, not trusted). null when the target cannot be read back or holds no such document.
   */
  readBack?(doc: TargetWrite, hint?: { targetId?: string }): Promise<ReadBack | null>;
  /**
   * Whether a document carries `doc.externalKey`, without reading its lines: its id when one does, null when none
   * does, undefined when the target cannot tell. For a target whose readBack answers null both for "no such document"
   * and "found but unreadable" (T+ without GetVoucherDTO; engine/pending-writes.ts).
   */
  findKey?(doc: TargetWrite): Promise<{ targetId: string } | null | undefined>;
  /** The lines `doc` would write, as readBack reports them (no request). */
  contentLines?(doc: TargetWrite): ContentLine[];
  /**
   * A known-good read of the operation's documents (a lookup of a key that does not exist, a one-row list): resolves
   * when the target answers, throws when it does not. The engine calls it after repeated write failures to tell an
   * outage from poison documents (engine/poison.ts). Resolves false when the target offers no such read.
   */
  probe?(operation: string): Promise<boolean>;
}

/**
 * Failures about the connection or the account, not the document: credentials and tokens that cannot be
 * refreshed, the monthly quota, an API the app may not call. Every other document would fail the same way,
 * so such a failure stops the run (the window is read again next time) instead of filing the document as a
 * dead letter and moving the watermark past it.
 */
export const ACCOUNT_ERROR_CODES: ReadonlySet<string> = new Set([
  TPLUS_ERROR.auth,
  TPLUS_ERROR.tokenInvalid,
  TPLUS_ERROR.refreshFailed,
  TPLUS_ERROR.loginFailed,
  TPLUS_ERROR.tokenPersistFailed,
  TPLUS_ERROR.appKeyMismatch,
  TPLUS_ERROR.quota,
  TPLUS_ERROR.apiNotEnabled,
  "kis_auth_failed",
]);

export function isAccountError(error: unknown): boolean {
  return error instanceof BridgeError && ACCOUNT_ERROR_CODES.has(error.code);
}
