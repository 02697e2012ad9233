/**
 * A tiny `.env` reader (no dotenv dependency): `KEY=value` lines, `export KEY=value`, `#` comments,
 * single quotes (literal), double quotes (with \n \r \t \" \\ escapes, may span lines — a PEM key fits),
 * and ` #` inline comments after unquoted values. The process environment wins over the file, as with dotenv.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigError } from "../../shared/errors.ts";

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseDotenv(text: string, file = ".env"): Record<string, string> {
  const out: Record<string, string> = {};
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = src.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("export ")) line = line.slice(7).trimStart();
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!KEY.test(key)) {
      // Never echo the line: it may hold a secret.
      throw new ConfigError(`${file}:${lineNo} is not a KEY=value line`, {
        hint: "write NAME=value (letters, digits and _ in the name); quote values with spaces or #",
        details: { file, line: lineNo },
      });
    }
    let rest = line.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // A quoted value may continue on the following lines until the closing quote.
      let body = rest.slice(1);
      let end = findClosing(body, quote);
      while (end < 0 && i + 1 < lines.length) {
        i++;
        body += `\n${lines[i]!}`;
        end = findClosing(body, quote);
      }
      if (end < 0) {
        throw new ConfigError(`${file}:${lineNo}: the value of ${key} has no closing ${quote}`, {
          hint: `close the quote (values may span lines inside ${quote}…${quote})`,
          details: { file, line: lineNo, key },
        });
      }
      const raw = body.slice(0, end);
      out[key] = quote === '"' ? unescapeDouble(raw) : raw;
      continue;
    }
    const hash = rest.search(/\s#/);
    if (hash >= 0) rest = rest.slice(0, hash);
    out[key] = rest.trim();
  }
  return out;
}

function findClosing(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === "\\") {
      i++;
      continue;
    }
    if (body[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" })[c]!);
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
