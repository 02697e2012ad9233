/**
 * The one shape of a target's connection settings read from the environment (KIS_*, TPLUS_*): a zod schema over
 * the variables that are set, and on failure one ConfigError naming the missing and the malformed variables —
 * never a value (most are secrets), and never zod's own message (it could quote the input).
 */
import * as z from "zod/mini";
import { ConfigError } from "../errors.ts";

/** A variable that must hold something (trimmed). */
export const requiredVar = z.string().check(z.trim(), z.minLength(1));
/** A variable that may be unset (trimmed when set). */
export const optionalVar = z.optional(z.string().check(z.trim(), z.minLength(1)));
/** An http(s) URL (trimmed). */
export const httpUrlVar = z.string().check(
  z.trim(),
  z.refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === "https:" || u.protocol === "http:";
    } catch {
      return false;
    }
  }),
);

/** The variables of `names` that are set; empty or blank counts as unset. */
export function presentVars(env: Record<string, string | undefined>, names: readonly string[]): Record<string, string> {
  const input: Record<string, string> = {};
  for (const name of names) {
    const value = env[name];
    if (typeof value === "string" && value.trim() !== "") input[name] = value;
  }
  return input;
}

/**
 * Sorts a failed parse's issues into missing variables (not set) and invalid ones (set, but refused), the latter with
 * our own rule text where `rules` has one: "KIS_BASE_URL (must be an http(s) URL)".
 */
export function missingAndInvalid(
  issues: readonly { path: readonly PropertyKey[] }[],
  input: Record<string, string>,
  rules: Readonly<Record<string, string>>,
): { missing: string[]; invalid: string[] } {
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const issue of issues) {
    const name = String(issue.path[0] ?? "");
    if (!(name in input)) missing.push(name);
    else invalid.push(rules[name] ? `${name} (${rules[name]})` : name);
  }
  return { missing, invalid };
}

/** "<what>: missing A, B; invalid C", with the names (deduplicated) in details and the hint saying where they come from. */
export function envConfigError(what: string, missing: readonly string[], invalid: readonly string[], hint: string): ConfigError {
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${[...new Set(missing)].join(", ")}`);
  if (invalid.length) parts.push(`invalid ${[...new Set(invalid)].join(", ")}`);
  return new ConfigError(`${what}: ${parts.join("; ")}`, { hint, details: { missing: [...new Set(missing)], invalid: [...new Set(invalid)] } });
}
