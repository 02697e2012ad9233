/**
 * Which flow a command means: a seed flow id (`jst-other-in-to-kis`) or a path to a flow document.
 * A document is a native flow or QEasy scheme metadata (recognised by its shape and imported).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigError } from "../../shared/errors.ts";
import { importQeasyDetailed } from "../../shared/flow/qeasy-import.ts";
import { loadFlow, type Flow } from "../../shared/flow/schema.ts";
import { SEED_FLOW_DOCUMENTS, SEED_FLOW_IDS, seedFlow } from "../../shared/flows/index.ts";

/** QEasy schemes carry `source.api` / `target.api` / `target.request` (and QEasy's `"type": "QUERY"`); native flows a vendor `source.type` and `target.fields`. */
export function isQeasyScheme(json: unknown): boolean {
  if (!json || typeof json !== "object" || Array.isArray(json)) return false;
  const doc = json as Record<string, unknown>;
  const source = doc.source as Record<string, unknown> | undefined;
  const target = doc.target as Record<string, unknown> | undefined;
  // QEasy's own source config says "type": "QUERY" (a native flow's source.type is jushuitan/…).
  if (source && typeof source === "object" && typeof source.type === "string" && !(source.type.toUpperCase() === "QUERY" && "api" in source)) return false;
  if (target && typeof target === "object" && Array.isArray(target.fields)) return false;
  return !!((source && typeof source === "object" && "api" in source) || (target && typeof target === "object" && ("api" in target || "request" in target)));
}

export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read ${what} ${path}${code ? ` (${code})` : ""}`, {
      hint: "check the path (relative paths start at the current directory)",
      details: { file: path },
    });
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new ConfigError(`${what} ${path} is not valid JSON: ${(error as Error).message}`, {
      hint: "fix the JSON syntax (a JSON linter shows the exact spot)",
      details: { file: path },
    });
  }
}

export interface ResolvedFlow {
  flow: Flow;
  /** "seed", or the file it came from. */
  origin: string;
  notes: string[];
}

export async function resolveFlow(ref: string | undefined, cwd: string): Promise<ResolvedFlow> {
  if (!ref) {
    throw new ConfigError("no flow given", { hint: `name a seed flow (${SEED_FLOW_IDS.join(", ")}) or a flow .json file` });
  }
  if (Object.prototype.hasOwnProperty.call(SEED_FLOW_DOCUMENTS, ref)) return { flow: structuredClone(seedFlow(ref)), origin: "seed", notes: [] };
  if (!/\.json$/i.test(ref) && !ref.includes("/") && !ref.includes("\\")) {
    throw new ConfigError(`unknown flow "${ref}"`, { hint: `use a seed flow (${SEED_FLOW_IDS.join(", ")}) or the path of a flow .json file` });
  }
  const path = resolve(cwd, ref);
  const json = await readJsonFile(path, "flow file");
  if (isQeasyScheme(json)) {
    const { flow, notes } = importQeasyDetailed(json);
    return { flow, origin: path, notes };
  }
  return { flow: loadFlow(json), origin: path, notes: [] };
}

/** A copy of the flow whose windows are `windowMs` long (the engine cuts ranges by incremental.windowDays). */
export function withWindow(flow: Flow, windowMs: number | undefined): Flow {
  if (windowMs === undefined) return flow;
  return { ...flow, incremental: { ...flow.incremental, windowDays: windowMs / 86_400_000 } };
}
