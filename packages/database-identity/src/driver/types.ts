/** Anything SQL can be sent to: the database itself, or a transaction in progress. */
export interface Queryable {
  /** Runs one parameterised statement ($1, $2, ...) and returns its rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations, test fixtures). */
  exec(script: string): Promise<void>;
}

export type DriverKind = 'embedded' | 'postgres';

export interface Database extends Queryable {
  readonly kind: DriverKind;
  /**
   * Runs `work` in one transaction: committed if it resolves, rolled back if it throws.
   * Nested calls are not supported; pass the `tx` on instead.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * The same pool, every statement bounded by `deadlineMs` on the client side (waiting for a connection
   * included): past it the statement is cancelled and rejects with DatabaseUnavailable. For the request
   * path, where an answer in seconds beats one in tens of seconds; maintenance and migrations use the
   * unbounded database. The view's close() closes the pool. The embedded database returns itself: it has no
   * network to hang on.
   */
  withDeadline(deadlineMs: number): Database;
  /** Pool usage, for metrics and the readiness probe. */
  poolStats(): { active: number; idle: number; max: number };
  close(): Promise<void>;
}

/**
 * The database cannot answer now: connection refused, reset or timed out, the server shutting down or out of
 * connections, or a statement past its deadline. Transient by nature: callers answer "try again" (HTTP 503)
 * instead of "server error". `code` keeps the driver's code (SQLSTATE or socket error) for classification.
 */
export class DatabaseUnavailable extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailable';
    this.code = code;
  }
}

export function isDatabaseUnavailable(error: unknown): error is DatabaseUnavailable {
  return error instanceof DatabaseUnavailable || (error as { name?: string } | null)?.name === 'DatabaseUnavailable';
}

/** SQLSTATE classes 08 (connection), 53 (resources), 57P0x (shutdown, cannot connect now) and socket errors. */
const UNAVAILABLE_CODE = /^(08...|53...|57P0[1-4]|E[A-Z]+|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED))$/;

/** A driver error as DatabaseUnavailable when it says the database cannot be reached; otherwise unchanged. */
export function asUnavailable(error: unknown): unknown {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (error instanceof DatabaseUnavailable || !UNAVAILABLE_CODE.test(code)) return error;
  return new DatabaseUnavailable('The database is unavailable', code, { cause: error });
}
