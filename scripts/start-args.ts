/**
 * The wrangler command line of `npm start`, kept free of credentials (security review #14): variables go
 * into an env file readable by this user only (0600, inside the run's 0700 temporary directory) that
 * wrangler reads with --env-file, never into argv, where `ps` shows them to every local user.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/** dotenv lines; values double-quoted with JSON escapes (dotenv expands \n inside double quotes). */
export function envFileText(vars: Record<string, string>): string {
  return (
    Object.entries(vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n") + "\n"
  );
}

/** Writes the variables to `<privateDir>/start.env` (0600) and returns its path. */
export function writePrivateEnvFile(privateDir: string, vars: Record<string, string>): string {
  const path = join(privateDir, "start.env");
  writeFileSync(path, envFileText(vars), { mode: 0o600 });
  return path;
}

export function wranglerDevArgs(options: { port: number; stateDir: string; envFile?: string }): string[] {
  const args = [
    "dev",
    "--port",
    String(options.port),
    "--ip",
    "127.0.0.1",
    "--test-scheduled",
    "--persist-to",
    join(options.stateDir, "persist"),
    "--show-interactive-dev-session=false",
    "--log-level",
    "warn",
  ];
  if (options.envFile) args.push("--env-file", options.envFile);
  return args;
}

/** The variables of a `.dev.vars` text, read with Node's own dotenv parser (the rules wrangler applies to the file). */
export function devVarsFrom(text: string): Record<string, string> {
  return { ...parseEnv(text) } as Record<string, string>;
}
