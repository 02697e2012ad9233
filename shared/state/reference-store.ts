/**
 * ReferenceStore over a KeyValueStore. A table is stored as a manifest plus chunks:
 *
 *   ref:<table>:meta            { v, name, version, chunks, rows, updatedAt, source }
 *   ref:<table>:<version>-<n>   JSON array of rows, each chunk ≤ maxChunkBytes (default 8 MiB)
 *
 * A 50,000-row table (~10 MB) is two chunks: a load is 1 manifest read + 1 bulk read of the chunks.
 * A put writes new-version chunks, then the manifest, then deletes the old chunks, so a reader with
 * the old manifest sees either the old table or (when its chunks are already gone) a retryable error.
 */
import * as z from "zod/mini";
import { BridgeError, ConfigError } from "../errors.ts";
import { silentLogger, systemClock, type Clock, type KeyValueStore, type Logger, type ReferenceStore, type ReferenceTable } from "../ports.ts";
import { KEY_PREFIX, stateKeys } from "./keys.ts";
import { decodeStored, MAX_VALUE_BYTES, readMany, utf8Length, WriteSpacer } from "./kv-helpers.ts";

interface ReferenceManifest {
  v: 1;
  name: string;
  version: string;
  chunks: number;
  rows: number;
  updatedAt: number;
  source?: string;
}

const manifestSchema: z.ZodMiniType<ReferenceManifest> = z.object({
  v: z.literal(1),
  name: z.string(),
  version: z.string().check(z.regex(/^[a-z0-9]+$/)),
  chunks: z.number().check(z.int(), z.nonnegative()),
  rows: z.number().check(z.int(), z.nonnegative()),
  updatedAt: z.number(),
  source: z.optional(z.string()),
});

/** Rows are checked by hand: a zod pass over 50,000 rows costs several times the JSON.parse itself (CPU-bound on Free). */
function decodeChunk(key: string, raw: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((r) => r !== null && typeof r === "object" && !Array.isArray(r))) {
    throw new BridgeError("state_corrupt", `State value "${key}" is not a reference table chunk (a JSON array of row objects)`, {
      hint: "Upload the reference table again; it rewrites every chunk.",
      details: { key },
    });
  }
  return parsed as Record<string, unknown>[];
}

export interface KvReferenceStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** Largest chunk value in UTF-8 bytes (default 8 MiB; KV allows 25 MiB). */
  maxChunkBytes?: number;
  writeIntervalMs?: number;
}

export class KvReferenceStore implements ReferenceStore {
  private readonly kv: KeyValueStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxChunkBytes: number;
  private readonly spacer: WriteSpacer;

  constructor(kv: KeyValueStore, options: KvReferenceStoreOptions = {}) {
    this.kv = kv;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    const max = options.maxChunkBytes ?? 8 * 1024 * 1024;
    if (!Number.isFinite(max) || max < 1024 || max > MAX_VALUE_BYTES) {
      throw new ConfigError(`maxChunkBytes ${max} is out of range`, { hint: `Use 1 KiB … 25 MiB.` });
    }
    this.maxChunkBytes = max;
    this.spacer = new WriteSpacer(this.clock, options.writeIntervalMs ?? 1000);
  }

  async get(name: string): Promise<ReferenceTable | null> {
    // One retry covers a manifest read that raced a concurrent put (its chunks were replaced meanwhile).
    for (let attempt = 1; ; attempt++) {
      const manifest = await this.readManifest(name);
      if (!manifest) return null;
      const keys = Array.from({ length: manifest.chunks }, (_, i) => stateKeys.referenceChunk(name, manifest.version, i));
      const values = await readMany(this.kv, keys);
      const rows: Record<string, unknown>[] = [];
      let missing = false;
      for (const key of keys) {
        const raw = values.get(key);
        if (raw === null || raw === undefined) {
          missing = true;
          break;
        }
        for (const row of decodeChunk(key, raw)) rows.push(row);
      }
      if (!missing) {
        const table: ReferenceTable = { name: manifest.name, rows, updatedAt: manifest.updatedAt };
        if (manifest.source !== undefined) table.source = manifest.source;
        return table;
      }
      if (attempt >= 2) {
        throw new BridgeError(
          "reference_table_inconsistent",
          `Reference table "${name}" is being replaced; a chunk of version ${manifest.version} is missing`,
          {
            retryable: true,
            hint: "Retry in a minute (KV propagates a new table within ~60 s); if it persists, upload the table again.",
            details: { table: name, version: manifest.version },
          },
        );
      }
    }
  }

  async put(table: ReferenceTable): Promise<void> {
    if (!table || !Array.isArray(table.rows)) {
      throw new ConfigError("Reference table must have a rows array", { hint: "Pass { name, rows: [...], updatedAt }." });
    }
    const metaKey = stateKeys.referenceMeta(table.name);
    const previous = await this.readManifest(table.name);
    const version = this.clock.now().toString(36) + Math.floor(Math.random() * 36 ** 4).toString(36);
    const chunks = chunkRows(table.rows, this.maxChunkBytes, table.name);
    for (let i = 0; i < chunks.length; i++) {
      await this.kv.put(stateKeys.referenceChunk(table.name, version, i), chunks[i] as string);
    }
    const manifest: ReferenceManifest = {
      v: 1,
      name: table.name,
      version,
      chunks: chunks.length,
      rows: table.rows.length,
      updatedAt: Number.isFinite(table.updatedAt) ? table.updatedAt : this.clock.now(),
    };
    if (table.source !== undefined) manifest.source = table.source;
    await this.spacer.write(metaKey, () => this.kv.put(metaKey, JSON.stringify(manifest)));
    if (previous && previous.version !== version) {
      for (let i = 0; i < previous.chunks; i++) await this.kv.delete(stateKeys.referenceChunk(table.name, previous.version, i));
    }
    this.logger.info("reference table stored", { table: table.name, rows: table.rows.length, chunks: chunks.length });
  }

  async list(): Promise<string[]> {
    const keys = await this.kv.list(KEY_PREFIX.reference);
    return keys
      .filter((k) => k.endsWith(":meta"))
      .map((k) => k.slice(KEY_PREFIX.reference.length, -":meta".length))
      .sort();
  }

  /** Row count, chunk count and fill time without loading the rows. */
  async describe(name: string): Promise<{ rows: number; chunks: number; updatedAt: number; source?: string } | null> {
    const m = await this.readManifest(name);
    if (!m) return null;
    const out: { rows: number; chunks: number; updatedAt: number; source?: string } = { rows: m.rows, chunks: m.chunks, updatedAt: m.updatedAt };
    if (m.source !== undefined) out.source = m.source;
    return out;
  }

  private async readManifest(name: string): Promise<ReferenceManifest | null> {
    const key = stateKeys.referenceMeta(name);
    const raw = await this.kv.get(key);
    return raw === null ? null : decodeStored(key, raw, manifestSchema);
  }
}

/** Serializes rows into JSON-array chunks no larger than maxBytes each (at least one chunk, possibly `[]`). */
export function chunkRows(rows: Record<string, unknown>[], maxBytes: number, table: string): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 2; // "[" and "]"
  rows.forEach((row, i) => {
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new ConfigError(`Reference table "${table}" row ${i} is not an object`, { hint: "Each row must be a JSON object.", details: { table, row: i } });
    }
    const json = JSON.stringify(row);
    const size = utf8Length(json) + 1;
    if (size + 2 > maxBytes) {
      throw new ConfigError(`Reference table "${table}" row ${i} alone exceeds the chunk size (${size} bytes)`, {
        hint: "Trim the row's columns; lookups need only the key and the mapped fields.",
        details: { table, row: i },
      });
    }
    if (parts.length > 0 && bytes + size > maxBytes) {
      chunks.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(json);
    bytes += size;
  });
  chunks.push(`[${parts.join(",")}]`);
  return chunks;
}
