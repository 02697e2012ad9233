/**
 * KeyValueStore persisted in a directory, one file per key, for the CLI (and an Action that caches the
 * directory between runs). Values are byte-for-byte the JSON the Worker stores in KV, so a state
 * directory can be uploaded to KV (or filled from it) without conversion.
 *
 * File names: the key with every character outside [a-z0-9._-] percent-encoded (upper case too, so keys
 * differing only in case stay apart on case-insensitive file systems); keys whose encoding is too long
 * for a file name go to `~<md5>.json`. Each file holds { key, value, expiresAt? }.
 * Writes go to a temporary file that is then renamed over the target: a crash never leaves half a value.
 */
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BridgeError } from "../../shared/errors.ts";
import type { KeyValueStore } from "../../shared/ports.ts";
import { checkKey, checkTtl, type BulkReadableStore } from "../../shared/state/kv-helpers.ts";
import { compareUtf8 } from "../../shared/state/memory-kv.ts";
import { md5Hex } from "../../shared/util/md5.ts";

export interface FileKvOptions {
  /** Directory holding the state (created when missing). */
  dir: string;
  /** Time source for TTL expiry (epoch ms). */
  now?: () => number;
  /** Told when the directory cannot be made private (another user owns it). */
  warn?: (message: string) => void;
}

interface FileRecord {
  key: string;
  value: string;
  expiresAt?: number;
}

const MAX_NAME_CHARS = 200;
const SUFFIX = ".json";

export class FileKeyValueStore implements KeyValueStore, BulkReadableStore {
  readonly dir: string;
  private readonly now: () => number;
  private readonly warn: (message: string) => void;
  private ready: Promise<void> | undefined;
  private tmpCounter = 0;

  constructor(options: FileKvOptions) {
    if (!options || typeof options.dir !== "string" || options.dir.length === 0) {
      throw new BridgeError("config_invalid", "FileKeyValueStore needs a directory", {
        hint: "Pass { dir: './.jst-bridge-state' } (or set the CLI's --state-dir).",
      });
    }
    this.dir = options.dir;
    this.now = options.now ?? (() => Date.now());
    this.warn = options.warn ?? ((message) => console.warn(`warning: ${message}`));
  }

  async get(key: string): Promise<string | null> {
    const record = await this.readRecord(fileNameFor(key));
    if (!record || record.key !== key) return null;
    if (this.expired(record)) {
      await this.delete(key);
      return null;
    }
    return record.value;
  }

  async getMany(keys: string[]): Promise<Map<string, string | null>> {
    const values = await Promise.all(keys.map((k) => this.get(k)));
    return new Map(keys.map((k, i) => [k, values[i] ?? null]));
  }

  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    checkKey(key);
    checkTtl(options?.expirationTtl, key);
    await this.ensureDir();
    const record: FileRecord = { key, value };
    if (options?.expirationTtl !== undefined) record.expiresAt = this.now() + options.expirationTtl * 1000;
    const target = join(this.dir, fileNameFor(key));
    const temp = join(this.dir, `.tmp-${process.pid}-${Date.now().toString(36)}-${this.tmpCounter++}`);
    try {
      // Token records live here: readable by the owner only (security review #8).
      await writeFile(temp, JSON.stringify(record), { encoding: "utf8", mode: 0o600 });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw fileError("write", key, this.dir, error);
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.dir, fileNameFor(key)), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw fileError("list", prefix, this.dir, error);
    }
    const keys: string[] = [];
    for (const name of names) {
      if (!name.endsWith(SUFFIX) || name.startsWith(".tmp-")) continue;
      const decoded = name.startsWith("~") ? null : decodeName(name.slice(0, -SUFFIX.length));
      // Hashed names hide the key; a decoded name that cannot match the prefix needs no read.
      if (decoded !== null && !decoded.startsWith(prefix)) continue;
      const record = await this.readRecord(name);
      if (!record || !record.key.startsWith(prefix)) continue;
      if (this.expired(record)) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      keys.push(record.key);
    }
    return keys.sort(compareUtf8);
  }

  private expired(record: FileRecord): boolean {
    return record.expiresAt !== undefined && record.expiresAt <= this.now();
  }

  private ensureDir(): Promise<void> {
    // 0700: the directory holds token records. An existing one (restored by a cache, made by `mkdir`) is
    // tightened too, with the files in it (0600), when it is ours; otherwise a warning says what to fix.
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => this.tighten());
    return this.ready;
  }

  private async tighten(): Promise<void> {
    if (process.platform === "win32" || typeof process.getuid !== "function") return;
    const uid = process.getuid();
    const info = await stat(this.dir);
    if (info.uid !== uid) {
      if (info.mode & 0o077)
        this.warn(
          `state directory ${this.dir} belongs to another user and is readable by others (mode ${(info.mode & 0o777).toString(8)}): use a directory of your own`,
        );
      return;
    }
    if (info.mode & 0o077) await chmod(this.dir, 0o700);
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const file = await stat(path).catch(() => null);
      if (file?.isFile() && file.uid === uid && file.mode & 0o077) await chmod(path, 0o600).catch(() => undefined);
    }
  }

  /** On the first read of an existing directory: the same tightening as before the first write. */
  private tightenedForRead: Promise<void> | undefined;

  private async readRecord(name: string): Promise<FileRecord | null> {
    this.tightenedForRead ??= (this.ready ?? this.tighten()).catch(() => undefined);
    await this.tightenedForRead;
    let text: string;
    try {
      text = await readFile(join(this.dir, name), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw fileError("read", name, this.dir, error);
    }
    try {
      const record = JSON.parse(text) as FileRecord;
      if (typeof record.key !== "string" || typeof record.value !== "string") throw new Error("missing key/value");
      return record;
    } catch {
      throw new BridgeError("state_corrupt", `State file ${join(this.dir, name)} is not a valid state record`, {
        hint: "Delete the file (its key will be rebuilt or re-read on the next run) or restore the state directory from a backup.",
        details: { file: name },
      });
    }
  }
}

/** The file name for a key (exported for tests and tooling). */
export function fileNameFor(key: string): string {
  let encoded = "";
  for (const byte of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(byte);
    encoded += /[a-z0-9._-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  // A leading dot would hide the file; the temp files use that prefix too.
  if (encoded.startsWith(".")) encoded = `%2E${encoded.slice(1)}`;
  return encoded.length <= MAX_NAME_CHARS ? `${encoded}${SUFFIX}` : `~${md5Hex(key)}${SUFFIX}`;
}

function decodeName(name: string): string | null {
  try {
    return decodeURIComponent(name);
  } catch {
    return null;
  }
}

function fileError(op: string, what: string, dir: string, error: unknown): BridgeError {
  const code = (error as NodeJS.ErrnoException)?.code;
  return new BridgeError("state_io_failed", `Cannot ${op} state "${what}" in ${dir}${code ? ` (${code})` : ""}`, {
    retryable: code === "EBUSY" || code === "EAGAIN",
    hint: "Check that the state directory exists, is writable and is not on a full disk.",
    cause: error,
    details: { dir, op },
  });
}
