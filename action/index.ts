// The Action's entry (bundled to action/dist/index.js); run() never throws.
import { tuneHeapForStreaming } from "./cli/heap.ts";
import { run } from "./main.ts";

tuneHeapForStreaming();
await run();
