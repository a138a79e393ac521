import postgres from 'postgres';
import type { Database, Queryable } from './types';

export interface ServerOptions {
  url: string;
  /** Upper bound on open connections. */
  maxConnections?: number;
  connectTimeoutSeconds?: number;
  /** Per-statement limit, sent as a startup parameter (no session SET, so poolers stay safe). */
  statementTimeoutMs?: number;
  /** Seconds an idle connection stays open (default 60; 0 keeps it). */
  idleTimeoutSeconds?: number;
  applicationName?: string;
}

/**
 * A real Postgres or Supabase database. Safe behind a transaction-mode pooler (Supavisor, PgBouncer):
 * no prepared statements, no session-level state; every multi-statement unit runs in a transaction.
 * TLS follows the URL (`sslmode=require` and friends).
 */
export function openServer(options: ServerOptions): Database {
  const max = options.maxConnections ?? 10;
  const sql = postgres(options.url, {
    max,
    prepare: false,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: options.idleTimeoutSeconds ?? 60,
    onnotice: () => {},
    connection: {
      application_name: options.applicationName ?? 'identity-provider',
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    },
    // int8 and numeric as JS numbers: our counts and ids stay far below 2^53, and both drivers then agree.
    types: {
      bigint: { to: 20, from: [20, 1700], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
    },
  });
  let active = 0;
  const run = async <Row>(target: postgres.Sql | postgres.TransactionSql, text: string, params?: readonly unknown[]) => {
    active++;
    try {
      const rows = await target.unsafe(text, (params ?? []) as postgres.ParameterOrJSON<never>[]);
      return rows as unknown as Row[];
    } finally {
      active--;
    }
  };
  return {
    kind: 'postgres',
    query: (text, params) => run(sql, text, params),
    exec: async (script) => void (await sql.unsafe(script).simple()),
    transaction: async (work) =>
      (await sql.begin((tx) => {
        const scoped: Queryable = {
          query: (text, params) => run(tx, text, params),
          exec: async (script) => void (await tx.unsafe(script).simple()),
        };
        return work(scoped);
      })) as Awaited<ReturnType<typeof work>>,
    poolStats: () => ({ active: Math.min(active, max), idle: Math.max(0, max - active), max }),
    close: () => sql.end({ timeout: 5 }),
  };
}
