/**
 * FlowLockPort + CheckpointMirrorPort + FlowIndexPort over the FlowLock Durable Object: one object per flow,
 * addressed by name, called over RPC (each call one billed Durable Object request).
 */
import type { Checkpoint } from "../shared/state/records.ts";
import type { AcquireResult, FlowCoordinator, LeaseStatus, ReleaseResult, RenewResult, StoredCheckpointCopy } from "../shared/state/lock.ts";
import { checkLeaseArgs } from "../shared/state/lock.ts";
import type { FlowLock } from "./flow-lock.ts";
import type { IndexCheckpointReader, IndexCheckpointView } from "../shared/state/checkpoint-view.ts";
import type { FlowIndexCommit, FlowIndexCommitResult, FlowIndexPort, FlowIndexSnapshot } from "../shared/state/flow-index.ts";

export interface DoFlowLockOptions {
  /** Overrides the object's clock (tests); leave unset in production so the object's own time decides. */
  now?: () => number;
}

export class DoFlowLock implements FlowCoordinator, FlowIndexPort, IndexCheckpointReader {
  private readonly namespace: DurableObjectNamespace<FlowLock>;
  private readonly now: (() => number) | undefined;

  constructor(namespace: DurableObjectNamespace<FlowLock>, options: DoFlowLockOptions = {}) {
    this.namespace = namespace;
    this.now = options.now;
  }

  async acquire(flowId: string, runId: string, leaseMs: number): Promise<AcquireResult> {
    checkLeaseArgs(flowId, runId, leaseMs);
    return (await this.stub(flowId).acquire(flowId, runId, leaseMs, this.now?.())) as AcquireResult;
  }

  async renew(flowId: string, runId: string, leaseMs: number, epoch?: number): Promise<RenewResult> {
    checkLeaseArgs(flowId, runId, leaseMs);
    return (await this.stub(flowId).renew(flowId, runId, leaseMs, this.now?.(), epoch)) as RenewResult;
  }

  async release(flowId: string, runId: string): Promise<ReleaseResult> {
    checkLeaseArgs(flowId, runId);
    return (await this.stub(flowId).release(flowId, runId)) as ReleaseResult;
  }

  async inspect(flowId: string): Promise<LeaseStatus> {
    return (await this.stub(flowId).inspect(flowId, this.now?.())) as LeaseStatus;
  }

  async commit(flowId: string, runId: string, checkpoint: Checkpoint, epoch?: number): Promise<{ committed: boolean; holder?: string }> {
    checkLeaseArgs(flowId, runId);
    return (await this.stub(flowId).commit(flowId, runId, checkpoint, this.now?.(), epoch)) as { committed: boolean; holder?: string };
  }

  async read(flowId: string): Promise<StoredCheckpointCopy | null> {
    return (await this.stub(flowId).read(flowId)) as StoredCheckpointCopy | null;
  }

  async loadIndex(flowId: string, options: { groupsSince: number }): Promise<FlowIndexSnapshot> {
    return (await this.stub(flowId).loadIndex(flowId, options.groupsSince)) as FlowIndexSnapshot;
  }

  async commitIndex(flowId: string, runId: string, epoch: number | undefined, commit: FlowIndexCommit): Promise<FlowIndexCommitResult> {
    checkLeaseArgs(flowId, runId);
    return (await this.stub(flowId).commitIndex(flowId, runId, epoch, commit, this.now?.())) as FlowIndexCommitResult;
  }

  async indexCheckpoint(flowId: string): Promise<IndexCheckpointView | null> {
    return (await this.stub(flowId).indexCheckpoint(flowId)) as IndexCheckpointView | null;
  }

  async loadCarriedTraces(flowId: string): Promise<unknown[]> {
    return (await this.stub(flowId).loadCarriedTraces(flowId)) as unknown[];
  }

  private stub(flowId: string): DurableObjectStub<FlowLock> {
    return this.namespace.get(this.namespace.idFromName(flowId));
  }
}
