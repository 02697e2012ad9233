/** The KIS connector: client, auth bootstrap, operations and the idempotent target writer. */
export * from "./config.ts";
export * from "./errors.ts";
export * from "./auth.ts";
export { KisClient, KIS_TOKEN_KEY, type KisCallOptions, type KisClientOptions, type KisRetryOptions } from "./client.ts";
export * from "./operations.ts";
export { KisTarget, type KisTargetOptions } from "./target.ts";
export { expiryToEpochMs } from "./transport.ts";
