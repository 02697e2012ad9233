/**
 * What every command gets: the effective environment (.env under the process env), output helpers that
 * pass through the redactor, a logger on stderr that steps around the progress line, and the state.
 */
import { parseArgs } from "node:util";
import { composeHost, type HostParts } from "../../shared/compose/index.ts";
import { ConfigError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/ports.ts";
import { MIN_SECRET_LENGTH, Redactor as SecretRedactor, shortSecretNames } from "../../shared/security/redact.ts";
import { redactingFetch, redactingKv } from "../../shared/security/secret-ports.ts";
import { insecureHttpAllowed } from "../../shared/security/transport.ts";
import type { FetchLike } from "../../shared/ports.ts";
import { loadEnv } from "./dotenv.ts";
import { workerOnlyEnvWarnings } from "../../shared/compose/env-hosts.ts";
import { createCliLogger, type CliIO, type LogLevel, Redactor } from "./io.ts";
import { ProgressLine } from "./progress.ts";
import { openState, parseStateKind, type OpenedState } from "./state.ts";

export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  "env-file": { type: "string" },
} as const satisfies OptionSpec;

export const STATE_OPTIONS = {
  state: { type: "string" },
  "state-dir": { type: "string" },
} as const satisfies OptionSpec;

export type ParsedOptions = Record<string, string | boolean | undefined>;

export function parseCommandArgs(command: string, args: string[], options: OptionSpec): { values: ParsedOptions; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: values as ParsedOptions, positionals };
  } catch (error) {
    throw new ConfigError(`${command}: ${(error as Error).message}`, {
      hint: `run \`jst-bridge ${command} --help\` for the options`,
      details: { option: command },
    });
  }
}

export class CommandContext {
  readonly io: CliIO;
  readonly env: Record<string, string | undefined>;
  readonly redactor: Redactor;
  /** Learns every token read from or written to the state, so output and logs redact rotated tokens too. */
  private readonly secrets: SecretRedactor;
  readonly logger: Logger;
  readonly json: boolean;
  readonly options: ParsedOptions;
  private progressLine: ProgressLine | undefined;

  private constructor(io: CliIO, env: Record<string, string | undefined>, options: ParsedOptions) {
    this.io = io;
    this.env = env;
    this.options = options;
    this.json = options.json === true;
    this.redactor = new Redactor(env);
    this.secrets = SecretRedactor.fromEnv(env).onSecret((value) => this.redactor.add(value));
    const level: LogLevel = options.verbose ? "debug" : options.quiet ? "error" : "warn";
    this.logger = createCliLogger((line) => this.err(line), level, this.redactor);
    // Too short to mask everywhere (they would match ordinary text): masked only after a credential word.
    for (const name of shortSecretNames(env)) {
      this.logger.warn(
        `${name} has fewer than ${MIN_SECRET_LENGTH} characters: it is masked in output only after a credential word (password=…); use a longer value`,
      );
    }
    // A Worker-only name (MAX_SUBREQUESTS, FLOW_SCHEDULES, …) from a .env shared with the Worker: said, not silently ignored.
    for (const warning of workerOnlyEnvWarnings(env, "CLI")) this.logger.warn(warning);
  }

  static async create(io: CliIO, options: ParsedOptions): Promise<CommandContext> {
    const env = await loadEnv(io.env, io.cwd, typeof options["env-file"] === "string" ? options["env-file"] : undefined);
    return new CommandContext(io, env, options);
  }

  /** Result output (stdout), redacted. */
  out(text: string): void {
    this.io.stdout.write(this.redactor.apply(text.endsWith("\n") ? text : `${text}\n`));
  }

  /** Unredacted stdout, only for the block of secrets the user asked `auth` to print. */
  outSecrets(text: string): void {
    this.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Diagnostics (stderr), redacted, around the progress line. */
  err(text: string): void {
    const line = this.redactor.apply(text);
    if (this.progressLine) this.progressLine.log(line);
    else this.io.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
  }

  /** A progress line on stderr when it is a terminal (never with --json or --quiet). */
  progress(zone?: string): ProgressLine {
    this.progressLine = new ProgressLine(this.io.stderr, this.io.wallNow, {
      enabled: this.io.stderr.isTTY === true && !this.json && this.options.quiet !== true,
      ...(zone ? { zone } : {}),
    });
    return this.progressLine;
  }

  endProgress(): void {
    this.progressLine?.done();
    this.progressLine = undefined;
  }

  state(): OpenedState {
    const kind = parseStateKind(typeof this.options.state === "string" ? this.options.state : undefined);
    const dir = typeof this.options["state-dir"] === "string" ? this.options["state-dir"] : ".jst-bridge";
    if (kind === "kv" && typeof this.options["state-dir"] === "string")
      throw new ConfigError("--state-dir has no effect with --state kv: the state is the Worker's KV namespace, not a directory", {
        hint: "drop --state-dir, or use --state file to keep the state in that directory",
        details: { option: "state-dir" },
      });
    const opened = openState({ kind, dir, cwd: this.io.cwd, env: this.env, fetch: this.io.fetch, clock: this.io.clock, logger: this.logger });
    return { ...opened, kv: redactingKv(opened.kv, this.secrets) };
  }

  /** The parts over a state (shared/compose): stores, clients and sessions; commands build nothing themselves. */
  host(state: OpenedState, fetch: FetchLike = this.fetch): HostParts {
    return composeHost({ env: this.env, kv: state.kv, fetch, clock: this.io.clock, logger: this.logger });
  }

  /** fetch for the upstreams: https only (loopback or ALLOW_INSECURE_HTTP=true excepted), no redirects, credentials learned. */
  get fetch(): FetchLike {
    return redactingFetch(this.io.fetch, this.secrets, { allowInsecureHttp: insecureHttpAllowed(this.env) });
  }

  string(name: string): string | undefined {
    const v = this.options[name];
    return typeof v === "string" ? v : undefined;
  }

  flag(name: string): boolean {
    return this.options[name] === true;
  }
}
