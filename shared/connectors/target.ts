/**
 * The common interface of target systems (T+, KIS). A write carries a deterministic external key so a
 * repeated or retried write is recognised by the target ("already_exists") instead of booking twice.
 */
import type { BridgeError } from "../errors.ts";

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
}
