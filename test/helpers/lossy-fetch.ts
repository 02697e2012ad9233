/** Network faults shared by the pending-write tests (engine/pending-writes.ts): a write that commits and loses its answer. */

/** A network whose first create commits but loses its answer; nothing answers after it. */
export function lossyFirstCreate() {
  let down = false;
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (down) throw new TypeError("network down");
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (/\/create$/i.test(url.pathname)) {
      await fetch(input, init);
      down = true;
      throw new TypeError("connection reset");
    }
    return fetch(input, init);
  };
}
