/**
 * What the CLI needs from its host, so tests drive it in-process: streams, environment, working
 * directory, fetch, clock, a wall clock for rates, and a prompt for the interactive `auth` walk-through.
 * Also the CLI's logger and the redactor that keeps secret values out of everything it prints.
 */
import { createInterface } from "node:readline/promises";
import type { Clock, FetchLike, Logger } from "../../shared/ports.ts";
import { systemClock } from "../../shared/ports.ts";
import { Redactor as SharedRedactor } from "../../shared/security/redact.ts";
import { createNodeFetch } from "./node-fetch.ts";

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  /** The process environment (the `.env` file is merged under it by the CLI). */
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: OutputStream;
  stderr: OutputStream;
  fetch: FetchLike;
  clock: Clock;
  /** Wall time in ms for rates and ETA (the clock may be virtual in tests and benches). */
  wallNow: () => number;
  /** Asks one question and returns the answer; absent when nobody can answer (stdin is not a terminal). */
  prompt?: (question: string) => Promise<string>;
}

export function nodeIO(): CliIO {
  const io: CliIO = {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    fetch: createNodeFetch(),
    clock: systemClock,
    wallNow: () => performance.now(),
  };
  if (process.stdin.isTTY) {
    io.prompt = async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim();
      } finally {
        rl.close();
      }
    };
  }
  return io;
}

/** Variable names whose values are secrets (the README's contract plus the Cloudflare token). */
export const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PRIVATE_KEY|AUTH_DATA|SESSION_ID)/;

/**
 * The CLI's and the Action's redactor: the one redactor (shared/security/redact.ts, every encoded form,
 * cut prefixes, short secrets in context), printing `[redacted]`. `apply` is its name here.
 */
export class Redactor extends SharedRedactor {
  constructor(env: Record<string, string | undefined> = {}) {
    super("[redacted]");
    this.addEnv(env);
    for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name) && value) this.add(value);
  }

  apply(text: string): string {
    return this.redact(text);
  }
}

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Log lines go to stderr (stdout carries results), through `emit` so a progress line can step aside. */
export function createCliLogger(emit: (line: string) => void, level: LogLevel, redactor: Redactor): Logger {
  const log = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[at] < LEVELS[level]) return;
    const extra = fields && Object.keys(fields).length ? ` ${formatFields(fields)}` : "";
    emit(redactor.apply(`${at}: ${message}${extra}`));
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

function formatFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? (/\s/.test(v) ? JSON.stringify(v) : v) : safeJson(v)}`)
    .join(" ");
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
