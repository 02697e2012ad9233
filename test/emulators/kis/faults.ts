/** Fault specs for the KIS emulator (see the emulator convention): matched by path substring, `skip` then `times`. */

export type KisFaultKind =
  | "http5xx" // answer 5xx before anything is processed
  | "commitThenTimeout" // process (store the bill), then never answer until the client gives up (or `delayMs`)
  | "timeout" // process nothing and never answer (or answer 504 after `delayMs`)
  | "html" // an HTML error page (status `status`, default 502)
  | "authExpired" // expire the current `credential` (default access_token) now, then process normally
  | "throttle" // HTTP `status` (default 429) with Retry-After `retryAfterS`
  | "bizError" // errcode 10201 with `reason`
  | "repeatPage"; // serve page 1 whatever CurrentPage says (broken paging)

export interface KisFaultSpec {
  kind: KisFaultKind;
  path?: string;
  times?: number;
  skip?: number;
  status?: number;
  delayMs?: number;
  reason?: string;
  retryAfterS?: number;
  credential?: "access_token" | "session" | "auth_data" | "refresh_auth_data_token";
  [param: string]: unknown;
}

const KINDS: readonly KisFaultKind[] = ["http5xx", "commitThenTimeout", "timeout", "html", "authExpired", "throttle", "bizError", "repeatPage"];

export class FaultQueue {
  private faults: Array<KisFaultSpec & { left: number; toSkip: number }> = [];

  add(specs: KisFaultSpec[]): void {
    for (const spec of specs) {
      if (!KINDS.includes(spec.kind)) throw new Error(`unknown fault kind "${String(spec.kind)}"; one of ${KINDS.join(", ")}`);
      this.faults.push({ ...spec, left: spec.times ?? 1, toSkip: spec.skip ?? 0 });
    }
  }

  clear(): void {
    this.faults = [];
  }

  list(): KisFaultSpec[] {
    return this.faults.map(({ left, toSkip, ...spec }) => ({ ...spec, times: left, skip: toSkip }));
  }

  /** The fault that fires for this request path, consuming one use; null when none does. */
  take(path: string): KisFaultSpec | null {
    for (const f of this.faults) {
      if (f.path !== undefined && !path.includes(f.path)) continue;
      if (f.toSkip > 0) {
        f.toSkip--;
        continue;
      }
      f.left--;
      if (f.left <= 0) this.faults = this.faults.filter((x) => x !== f);
      const { left: _left, toSkip: _toSkip, ...spec } = f;
      return spec;
    }
    return null;
  }
}

/** Resolves after `ms`, or as soon as the request is aborted (the client gave up); never leaks a timer. */
export function hold(signal: AbortSignal | undefined, ms: number): Promise<"aborted" | "elapsed"> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve("aborted");
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve("elapsed");
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve("aborted");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
