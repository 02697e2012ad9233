/** Jushuitan (聚水潭) connector: signing, endpoint descriptors, typed errors, the client. */
export * from "./client.ts";
export * from "./endpoints.ts";
export * from "./errors.ts";
export * from "./paging.ts";
export * from "./sign.ts";
export * from "./window-scan.ts";
