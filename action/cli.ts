#!/usr/bin/env node
// The `jst-bridge` command (bundled to action/dist/cli.js); the work happens in cli/main.ts.
import { tuneHeapForStreaming } from "./cli/heap.ts";
import { runCli } from "./cli/main.ts";

tuneHeapForStreaming();
process.exitCode = await runCli(process.argv.slice(2));
