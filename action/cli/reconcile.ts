/** The CLI's and the Action's reconcile is the Worker's: one implementation in shared/observe/reconcile.ts. */
export * from "../../shared/observe/reconcile.ts";
