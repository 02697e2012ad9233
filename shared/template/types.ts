/** Public types of the template language (see docs/template-language.md). */

/** `{{VAR|filter}}` values for one run. */
export interface TemplateVars {
  /** Epoch ms → LAST_SYNC_TIME. */
  lastSyncTime: number;
  /** Epoch ms → CURRENT_TIME (and NOW()). */
  currentTime: number;
  /** PAGINATION_START_PAGE (also the single-brace `{PAGINATION_START_PAGE}` form). */
  pageIndex?: number;
  /** PAGINATION_PAGE_SIZE. */
  pageSize?: number;
  /** IANA zone for filters and date functions; default "Asia/Shanghai". */
  timezone?: string;
  /** Further named variables a flow defines (never env vars or secrets); declare their names in `CompileOptions.variables`. */
  extra?: Record<string, unknown>;
}

/** Synchronous: tables are preloaded for the run. Return the same array instance for a table during a run (lookups index it once). */
export interface LookupTables {
  get(table: string): ReadonlyArray<Record<string, unknown>> | undefined;
}

export interface EvalScope {
  /** Current source record (or the current detail line inside a children mapping). */
  record: Record<string, unknown>;
  /** The parent record inside a children mapping (`{parent.x}` / `{../x}` both work). */
  parent?: Record<string, unknown>;
  /**
   * Records enclosing `record`, nearest first (`ancestors[0]` is `parent`): the outer line, then the header.
   * Set by the mapping for nested children; without it the chain is just `parent`.
   */
  ancestors?: readonly Record<string, unknown>[];
  vars: TemplateVars;
  lookups?: LookupTables;
  /** Table for `_mongoQuery` without an explicit table. */
  defaultLookupTable?: string;
}

export interface CompiledValue {
  readonly source: string;
  readonly kind: "literal" | "field" | "template" | "function" | "lookup";
  /** Record paths it reads (for traces, diagrams, "reference tables used"). Parent paths start with `../`, per-line paths inside aggregates with `<array>[].`. */
  readonly fields: readonly string[];
  /** The subset of `fields` an aggregate reads whole, projecting through arrays (`SUM(items.qty)` → `items.qty`). */
  readonly aggregateFields?: readonly string[];
  /** Lookup tables it reads (explicit names; see `usesDefaultTable`). */
  readonly tables: readonly string[];
  /** True when a lookup names no table and so reads `scope.defaultLookupTable` (always set by compileValue). */
  readonly usesDefaultTable?: boolean;
  /** Throws TemplateEvalError (or LookupMissError); never returns the raw expression text. */
  evaluate(scope: EvalScope): unknown;
}

export interface CompileOptions {
  /** JSON path of the value inside the flow, e.g. `target.fields[3].children[0].value`; quoted in every error. */
  path?: string;
  /** Names of the flow's extra variables (`vars.extra`) that `{{NAME}}` may reference. */
  variables?: readonly string[];
  /**
   * QEasy line scope: the source arrays of the enclosing children mappings, innermost first (`["batchs", "items"]`).
   * Then `{{items.qty}}` reads the current `items` line and a plain `{{remark}}` falls back from the line to the
   * enclosing records (docs/template-language.md §2).
   */
  lineArrays?: readonly string[];
}
