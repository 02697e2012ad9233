/**
 * TokenStore over a KeyValueStore: `tok:<system>` holds the system's current TokenSet as JSON.
 * Hosts share it, so a refresh made by the Worker cron is used by the next CLI run and vice versa
 * (a rotated refresh token must never be lost). Values are secrets: errors name the key, never the value.
 */
import * as z from "zod/mini";
import { silentLogger, systemClock, type Clock, type KeyValueStore, type Logger, type TokenSet, type TokenStore } from "../ports.ts";
import { ConfigError } from "../errors.ts";
import { stateKeys } from "./keys.ts";
import { decodeStored, WriteSpacer } from "./kv-helpers.ts";

const tokenSetSchema: z.ZodMiniType<TokenSet> = z.object({
  accessToken: z.string(),
  refreshToken: z.optional(z.string()),
  expiresAt: z.optional(z.number()),
  refreshExpiresAt: z.optional(z.number()),
  extra: z.optional(z.record(z.string(), z.string())),
});

export interface KvTokenStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** Spacing between writes of one system's tokens (KV: one write per second per key). */
  writeIntervalMs?: number;
}

export class KvTokenStore implements TokenStore {
  private readonly kv: KeyValueStore;
  private readonly spacer: WriteSpacer;
  private readonly logger: Logger;
  /** Read-your-writes within this instance: KV may serve the pre-rotation pair for up to a minute. */
  private readonly written = new Map<string, TokenSet>();

  constructor(kv: KeyValueStore, options: KvTokenStoreOptions = {}) {
    this.kv = kv;
    this.spacer = new WriteSpacer(options.clock ?? systemClock, options.writeIntervalMs ?? 1000);
    this.logger = options.logger ?? silentLogger;
  }

  async get(system: string): Promise<TokenSet | null> {
    const key = stateKeys.token(system);
    const own = this.written.get(key);
    if (own) return structuredClone(own);
    const raw = await this.kv.get(key);
    return raw === null ? null : decodeStored(key, raw, tokenSetSchema);
  }

  async put(system: string, tokens: TokenSet): Promise<void> {
    const key = stateKeys.token(system);
    const parsed = tokenSetSchema.safeParse(tokens);
    if (!parsed.success) {
      const path = parsed.error.issues[0]?.path.map(String).join(".") || "(root)";
      // The zod message can quote the received value; report only the field.
      throw new ConfigError(`Invalid token set for "${system}" at ${path}`, {
        hint: "accessToken must be a string; expiry fields epoch ms.",
        details: { system, path },
      });
    }
    await this.spacer.write(key, () => this.kv.put(key, JSON.stringify(parsed.data)));
    this.written.set(key, structuredClone(parsed.data));
    this.logger.debug("tokens stored", { system });
  }
}
