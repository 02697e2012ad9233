/**
 * Fault injection for the T+ emulator: specs are matched in order against the request path (substring),
 * `skip` lets that many matching requests through first, `times` (default 1) is how often it fires.
 */

export const FAULT_KINDS = [
  "http5xx", // answer 5xx before anything is stored
  "commitThenTimeout", // store the document, then hold the answer until the client gives up (or delayMs passes)
  "commitThen5xx", // store the document, then answer 502 (a lost success)
  "timeout", // hold without storing anything
  "html", // answer an HTML page instead of JSON
  "tokenExpired", // invalidate the presented token and answer the token error
  "throttle409", // gateway throttling: 409 {"error":…}
  "quota50112", // monthly quota used up: 401 {code:"50112"}
  "exsv0011", // service not enabled / not found
  "tooFast14002", // token endpoint: 请求太快
  "bizError", // a business refusal {code, message}
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  kind: FaultKind;
  path?: string;
  times?: number;
  skip?: number;
  [param: string]: unknown;
}

export class FaultQueue {
  private faults: FaultSpec[] = [];

  add(specs: FaultSpec[]): void {
    for (const spec of specs) {
      if (!FAULT_KINDS.includes(spec.kind)) throw new Error(`unknown fault kind "${String(spec.kind)}"; known: ${FAULT_KINDS.join(", ")}`);
      this.faults.push({ ...spec, times: spec.times ?? 1, skip: spec.skip ?? 0 });
    }
  }

  clear(): void {
    this.faults = [];
  }

  list(): FaultSpec[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The fault to apply to this request, if any (consumes one use). */
  take(path: string): FaultSpec | undefined {
    for (let i = 0; i < this.faults.length; i++) {
      const fault = this.faults[i]!;
      if (fault.path !== undefined && !path.includes(fault.path)) continue;
      if ((fault.skip ?? 0) > 0) {
        fault.skip = (fault.skip ?? 0) - 1;
        continue;
      }
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(i, 1);
      return fault;
    }
    return undefined;
  }
}
