/**
 * V8 heap tuning for the CLI and the Action processes. A backfill allocates fast (every page and every
 * write is a burst of short-lived objects); V8 then grows the young generation to 128 MB and lets the old
 * one fill with garbage, although ~30 MB are live. Favouring size keeps a 10,000-document backfill at
 * ~110 MB peak RSS instead of ~255 MB, for ~15 % of CPU — and a real backfill waits on Jushuitan's 100
 * requests/minute long before CPU matters (bench/backfill.ts measures both).
 */
import { setFlagsFromString } from "node:v8";

export function tuneHeapForStreaming(): void {
  // A heuristic flag; takes effect for the heap's next sizing decisions even after start-up.
  setFlagsFromString("--optimize-for-size");
}
