/**
 * `jst-bridge`: the command-line face of the sync core. `runCli(argv, io)` parses the command, runs it and
 * returns the exit code; nothing here calls process.exit, so tests (and the bench) run it in-process.
 */
import { ConfigError } from "../../shared/errors.ts";
import { VERSION } from "../../shared/version.ts";
import { CommandContext, parseCommandArgs, STATE_OPTIONS, type OptionSpec } from "./context.ts";
import { EXIT, formatError } from "./errors.ts";
import { type CliIO, nodeIO, Redactor } from "./io.ts";
import { AUTH_OPTIONS, AUTH_USAGE, authCommand } from "./commands/auth.ts";
import { DOCTOR_OPTIONS, DOCTOR_USAGE, doctorCommand } from "./commands/doctor.ts";
import {
  IMPORT_OPTIONS,
  IMPORT_USAGE,
  importQeasyCommand,
  PREVIEW_OPTIONS,
  PREVIEW_USAGE,
  previewCommand,
  VALIDATE_OPTIONS,
  VALIDATE_USAGE,
  validateCommand,
} from "./commands/flow-tools.ts";
import { RECONCILE_OPTIONS, RECONCILE_USAGE, reconcileCommand } from "./commands/reconcile.ts";
import { REFERENCE_OPTIONS, REFERENCE_USAGE, referenceCommand } from "./commands/reference.ts";
import { SYNC_OPTIONS, SYNC_USAGE, syncCommand } from "./commands/sync.ts";

export { tuneHeapForStreaming } from "./heap.ts";

interface Command {
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Most arguments the command takes (default 1; doctor takes any number of flows). Extra words are refused, not dropped. */
  maxArguments?: number;
  run(ctx: CommandContext, positionals: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  sync: {
    summary: "backfill a date range, or run incrementally like the Worker",
    usage: SYNC_USAGE,
    options: { ...SYNC_OPTIONS, ...STATE_OPTIONS },
    run: syncCommand,
  },
  reconcile: {
    summary: "compare source and target per day and warehouse; exit 3 on drift",
    usage: RECONCILE_USAGE,
    options: { ...RECONCILE_OPTIONS, ...STATE_OPTIONS },
    run: reconcileCommand,
  },
  preview: {
    summary: "map documents from a file through a flow, write nothing",
    usage: PREVIEW_USAGE,
    options: { ...PREVIEW_OPTIONS, ...STATE_OPTIONS },
    run: previewCommand,
  },
  validate: { summary: "check a flow or QEasy scheme document", usage: VALIDATE_USAGE, options: VALIDATE_OPTIONS, run: validateCommand },
  "import-qeasy": { summary: "convert QEasy scheme metadata into a flow", usage: IMPORT_USAGE, options: IMPORT_OPTIONS, run: importQeasyCommand },
  auth: {
    summary: "get tokens for jst, tplus or kis and print the wrangler secret lines",
    usage: AUTH_USAGE,
    options: { ...AUTH_OPTIONS, ...STATE_OPTIONS },
    run: authCommand,
  },
  doctor: {
    summary: "read-only go-live checklist against the configured systems (--write-probe learns duplicate answers)",
    usage: DOCTOR_USAGE,
    options: { ...DOCTOR_OPTIONS, ...STATE_OPTIONS },
    maxArguments: Number.POSITIVE_INFINITY,
    run: doctorCommand,
  },
  reference: {
    summary: "upload, refresh or list reference tables",
    usage: REFERENCE_USAGE,
    options: { ...REFERENCE_OPTIONS, ...STATE_OPTIONS },
    maxArguments: 3, // upload <table> <file>
    run: referenceCommand,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `jst-bridge ${VERSION}: Jushuitan (聚水潭) → Kingdee KIS / Chanjet T+ sync, from the command line`,
    "",
    "usage: jst-bridge <command> [arguments] [options]",
    "",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Configuration: the environment and ./.env (--env-file <file>), with the Worker's variable names (README).",
    "Options of every command: --json, -v/--verbose, -q/--quiet, --env-file, -h/--help.",
    "Exit codes: 0 success · 1 failure · 2 partial (dead letters) · 3 drift (reconcile).",
    "Run `jst-bridge <command> --help` for a command's options.",
  ].join("\n");
}

export async function runCli(argv: string[], overrides: Partial<CliIO> = {}): Promise<number> {
  const io: CliIO = { ...nodeIO(), ...overrides };
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT.failure : EXIT.ok;
  }
  if (name === "--version" || name === "version") {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(
      formatError(new ConfigError(`unknown command "${name}"`, { hint: `use one of ${Object.keys(COMMANDS).join(", ")} (jst-bridge --help)` }), new Redactor()),
    );
    return EXIT.failure;
  }
  let ctx: CommandContext | undefined;
  try {
    const { values, positionals } = parseCommandArgs(name, rest, command.options);
    if (values.help) {
      io.stdout.write(`${command.usage}\n`);
      return EXIT.ok;
    }
    refuseExtraArguments(name, positionals, command.maxArguments ?? 1);
    ctx = await CommandContext.create(io, values);
    return await command.run(ctx, positionals);
  } catch (error) {
    ctx?.endProgress();
    io.stderr.write(formatError(error, ctx?.redactor ?? new Redactor(io.env), `jst-bridge ${name}`));
    return EXIT.failure;
  }
}

/** `sync flow dry-run` (the "--" forgotten) must not run a real sync: a word the command does not take is an error. */
function refuseExtraArguments(command: string, positionals: string[], max: number): void {
  if (positionals.length <= max) return;
  const extra = positionals.slice(max);
  throw new ConfigError(`jst-bridge ${command} does not take ${extra.map((w) => JSON.stringify(w)).join(", ")}`, {
    hint: `options start with "--" (e.g. --${extra[0]!.replace(/^-+/, "")}); see jst-bridge ${command} --help`,
  });
}
