/**
 * Keeps a run's flow lease while it works, and fences it: before a target write or a state save the run renews
 * its lease when a third of it (at most a minute) has passed since the last renewal; a refused renewal (another
 * run took the flow over after this one stalled past its lease) stops the run with `lease_lost` before it writes
 * anything else (engine-review finding 10). Cost: one lock request per renewal interval of a run's wall time.
 */
import { BridgeError } from "../errors.ts";
import type { Clock } from "../ports.ts";
import type { FlowLockPort } from "./lock.ts";

export class LeaseLostError extends BridgeError {
  constructor(flowId: string, runId: string, holder: string | undefined) {
    super("lease_lost", `run ${runId} lost the lease of flow ${flowId}${holder ? ` to ${holder}` : ""}; it stops before writing anything else`, {
      hint: "the run stalled past its lease (RUN_LEASE_SECONDS) and another run took the flow over; that run continues the work",
      details: { flowId, runId, holder },
    });
  }
}

export class LeaseKeeper {
  private last: number;
  private readonly intervalMs: number;
  private readonly lock: FlowLockPort;
  private readonly flowId: string;
  private readonly runId: string;
  private readonly leaseMs: number;
  private readonly clock: Clock;
  /** The lease's fencing token (lock.ts): a renewal with it is refused once another acquire took the flow over. */
  readonly epoch: number | undefined;

  constructor(options: { lock: FlowLockPort; flowId: string; runId: string; leaseMs: number; clock: Clock; intervalMs?: number; epoch?: number }) {
    this.epoch = options.epoch;
    this.lock = options.lock;
    this.flowId = options.flowId;
    this.runId = options.runId;
    this.leaseMs = options.leaseMs;
    this.clock = options.clock;
    this.intervalMs = options.intervalMs ?? Math.min(60_000, Math.floor(options.leaseMs / 3));
    this.last = this.clock.now();
  }

  /** Renews when due; throws LeaseLostError when the lease is no longer this run's. */
  async keep(): Promise<void> {
    if (this.clock.now() - this.last < this.intervalMs) return;
    await this.fence();
  }

  /** Renews now (one lock request) and throws LeaseLostError unless the lease is still this run's, at this epoch. */
  async fence(): Promise<void> {
    const result = await this.lock.renew(this.flowId, this.runId, this.leaseMs, this.epoch);
    if (!result.renewed) throw new LeaseLostError(this.flowId, this.runId, result.holder);
    this.last = this.clock.now();
  }
}
