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
    super("key_scheme_changed", `flow ${flowId}: its external key template changed since documents were written (key scheme ${hash}); the run is refused so nothing is booked twice under new keys`, {
      hint: range
        ? `run an incremental sync first with ACCEPT_KEY_SCHEME=${flowId}:${hash}, or restore the previous externalKey/keyTemplate`
        : `restore the previous externalKey/keyTemplate, or accept the change with ACCEPT_KEY_SCHEME=${flowId}:${hash} (the next run then reads only what changed after the watermark; documents edited upstream later are booked under the new keys)`,
      details: { flowId, keyScheme: hash },
    });
  }
}
