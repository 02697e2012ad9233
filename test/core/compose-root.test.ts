/**
 * One construction path (issue 18 item 1): connectors, the state store, the token and reference stores and the
 * metered session are built only by the composition root (shared/compose/). Every host — the Worker's cron,
 * queue and HTTP services, the CLI commands, the Action, replay, reconcile, doctor and reference refresh —
 * supplies its ports and takes the parts from there. This scans the production sources for a construction
 * anywhere else.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/** Constructions that belong to shared/compose/ only. */
const CONSTRUCTIONS = [
  /new JushuitanClient\(/,
  /new KisClient\(/,
  /new KisOperations\(/,
  /new KisTarget\(/,
  /\bcreateTplusClient\(/,
  /new FlowStateStore\(/,
  /new KvTokenStore\(/,
  /new KvReferenceStore\(/,
  /new MeteredKeyValueStore\(/,
  /new TplusCloudTransport\(/,
  /\bbootstrapWithCode\(/,
];

/** The connectors' own code (a client re-creating itself for another 账套, createTplusClient's definition) and the root itself. */
const OWN_FOLDERS = ["shared/compose/", "shared/connectors/"];

function productionFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist") continue;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...productionFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

describe("composition root", () => {
  it("connectors, state, token and reference stores are constructed only in shared/compose/", () => {
    const offenders: string[] = [];
    for (const file of [...productionFiles("shared"), ...productionFiles("worker"), ...productionFiles("action")]) {
      const rel = relative(ROOT, join(ROOT, file)).replaceAll("\\", "/");
      if (OWN_FOLDERS.some((folder) => rel.startsWith(folder))) continue;
      const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        for (const re of CONSTRUCTIONS) if (re.test(line)) offenders.push(`${rel}:${i + 1} ${line.trim().slice(0, 100)}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
