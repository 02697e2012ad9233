/**
 * The error vocabulary of the core. Every error the core raises is a BridgeError with a stable `code`,
 * a `retryable` flag (the retry helper only retries those) and an optional `hint` telling the user how to fix it.
 * Messages never contain secrets: connectors build them from codes, paths and server messages only.
 */
export interface BridgeErrorOptions {
  retryable?: boolean;
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class BridgeError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON() {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable, hint: this.hint, details: this.details };
  }
}

/** The invocation's subrequest budget or deadline is spent: stop at a boundary, save the cursor, never retry. */
export class BudgetExhaustedError extends BridgeError {
  /** The retryable failure a retry loop was recovering from when the budget ran out (util/retry.ts). */
  after?: unknown;
  constructor(message: string, details?: Record<string, unknown>) {
    super("budget_exhausted", message, { retryable: false, details });
  }
}

/** Bad configuration or flow document; `details.path` holds the JSON path when there is one. */
export class ConfigError extends BridgeError {
  constructor(message: string, options: BridgeErrorOptions = {}) {
    super("config_invalid", message, options);
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof BridgeError && error.retryable;
}
