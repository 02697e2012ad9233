/**
 * The CLI's `.env` reader: Node's own util.parseEnv (the reader `npm start` uses for .dev.vars, so one line gives one
 * value on every host): `KEY=value`, `export KEY=value`, `#` comments (also after an unquoted value, even without a
 * space: `A=a#b` is "a"), single, double and backtick quotes, multi-line quoted values (a PEM key fits), `\n` in
 * double quotes. parseEnv never refuses a line, so a check before it names the line of a bad entry (never echoing it:
 * it may hold a secret). The process environment wins over the file, as with dotenv.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { ConfigError } from "../../shared/errors.ts";

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUOTES = new Set(["'", '"', "`"]);

export function parseDotenv(text: string, file = ".env"): Record<string, string> {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  checkDotenvLines(src, file);
  return { ...parseEnv(src) } as Record<string, string>;
}

/** Refuses what parseEnv would silently skip or cut: a line that is no KEY=value, an unclosed quote, text after one. */
function checkDotenvLines(src: string, file: string): void {
  const lines = src.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("export ")) line = line.slice(7).trimStart();
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!KEY.test(key)) {
      throw new ConfigError(`${file}:${lineNo} is not a KEY=value line`, {
        hint: "write NAME=value (letters, digits and _ in the name); quote values with spaces or #",
        details: { file, line: lineNo },
      });
    }
    const rest = line.slice(eq + 1).trimStart();
    const quote = rest[0] ?? "";
    if (!QUOTES.has(quote)) continue;
    // A quoted value may continue on the following lines until the closing quote.
    let body = rest.slice(1);
    let end = body.indexOf(quote);
    while (end < 0 && i + 1 < lines.length) {
      i++;
      body = lines[i]!;
      end = body.indexOf(quote);
    }
    if (end < 0) {
      throw new ConfigError(`${file}:${lineNo}: the value of ${key} has no closing ${quote}`, {
        hint: `close the quote (values may span lines inside ${quote}…${quote})`,
        details: { file, line: lineNo, key },
      });
    }
    const after = body.slice(end + 1).trim();
    if (after !== "" && !after.startsWith("#")) {
      throw new ConfigError(`${file}:${lineNo}: the value of ${key} has text after its closing ${quote}`, {
        hint: `the value ends at the first ${quote} (no \\${quote} escapes): quote it with another kind of quote (' " \`)`,
        details: { file, line: lineNo, key },
      });
    }
  }
}

/**
 * The effective environment: the `.env` file (when present, or the one named explicitly) under the
 * process environment. Missing default `.env` is fine; a missing explicit file is an error.
 */
export async function loadEnv(processEnv: Record<string, string | undefined>, cwd: string, explicitFile?: string): Promise<Record<string, string | undefined>> {
  const path = resolve(cwd, explicitFile ?? ".env");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && explicitFile === undefined) return { ...processEnv };
    throw new ConfigError(`cannot read the env file ${path}`, { hint: "check the --env-file path", details: { file: path } });
  }
  const fromFile = parseDotenv(text, explicitFile ?? ".env");
  const env: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined && v !== "") env[k] = v;
  return env;
}
