/**
 * Wraps the host's fetch for one invocation: enforces the subrequest budget and deadline (Workers Free allows
 * 50 subrequests per invocation) and records, per external endpoint, calls, errors, throttles and latency
 * for the run summary and the API catalog. Connectors never see the budget: they get a fetch that refuses
 * with BudgetExhaustedError, which every retry loop lets through.
 */
import { BudgetExhaustedError } from "../errors.ts";
import type { Clock, FetchLike } from "../ports.ts";

export interface Budget {
  /** Outbound requests this invocation may make (source pages, target writes, token refreshes). */
  maxSubrequests: number;
  /** Epoch ms after which no new request starts. */
  deadline?: number;
}

export interface EndpointStats {
  endpoint: string;
  calls: number;
  errors: number;
  throttles: number;
  latenciesMs: number[];
}

export interface CallMeter {
  readonly fetch: FetchLike;
  /** Requests started so far. */
  used(): number;
  remaining(): number;
  /** True when the next request would be refused. */
  exhausted(): boolean;
  /**
   * Counts one call that is not a fetch against the budget (a state call the run makes per page, e.g. a write
   * intent: Durable Object calls count as subrequests on Workers, ../shared/docs/platform.md), under `label`
   * (`state:…`). Throws BudgetExhausted like a fetch when none is left.
   */
  charge(label: string): void;
  stats(): EndpointStats[];
}

/** Endpoint labels of calls that are not vendor API calls (CallMeter.charge). */
export const isStateLabel = (endpoint: string) => endpoint.startsWith("state:");

/** Jushuitan answers throttling inside HTTP 200 with code 199/200; peek at small bodies to count it. */
const JST_THROTTLE = /"code"\s*:\s*(199|200)\s*[,}]/;
const PEEK_LIMIT = 4096;

export function endpointLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return url.split("?")[0] ?? url;
  }
}

export function createCallMeter(fetch: FetchLike, budget: Budget, clock: Clock): CallMeter {
  let used = 0;
  const byEndpoint = new Map<string, EndpointStats>();

  const statsFor = (endpoint: string) => {
    let s = byEndpoint.get(endpoint);
    if (!s) {
      s = { endpoint, calls: 0, errors: 0, throttles: 0, latenciesMs: [] };
      byEndpoint.set(endpoint, s);
    }
    return s;
  };

  const exhausted = () => used >= budget.maxSubrequests || (budget.deadline !== undefined && clock.now() >= budget.deadline);

  /** Counts one call under `endpoint`, or throws when the budget is spent. */
  const take = (endpoint: string): EndpointStats => {
    if (exhausted()) {
      throw new BudgetExhaustedError(used >= budget.maxSubrequests ? `subrequest budget of ${budget.maxSubrequests} spent` : "invocation deadline reached", {
        used,
        maxSubrequests: budget.maxSubrequests,
      });
    }
    used++;
    const s = statsFor(endpoint);
    s.calls++;
    return s;
  };

  const metered: FetchLike = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const s = take(endpointLabel(url));
    const started = clock.now();
    try {
      const res = await fetch(input, init);
      s.latenciesMs.push(clock.now() - started);
      if (res.status === 409 || res.status === 429) s.throttles++;
      else if (res.status >= 400) s.errors++;
      else {
        const length = Number(res.headers.get("content-length") ?? NaN);
        if (length < PEEK_LIMIT && JST_THROTTLE.test(await res.clone().text())) s.throttles++;
      }
      return res;
    } catch (error) {
      s.latenciesMs.push(clock.now() - started);
      s.errors++;
      throw error;
    }
  };

  return {
    fetch: metered,
    used: () => used,
    remaining: () => Math.max(0, budget.maxSubrequests - used),
    exhausted,
    charge: (label) => {
      take(label);
    },
    stats: () => [...byEndpoint.values()].map((s) => ({ ...s, latenciesMs: [...s.latenciesMs] })),
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
