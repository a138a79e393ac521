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
  /** Pool usage, for metrics and the readiness probe. */
  poolStats(): { active: number; idle: number; max: number };
  close(): Promise<void>;
}
