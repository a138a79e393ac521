import postgres from 'postgres';
import { asUnavailable, DatabaseUnavailable, type Database, type Queryable } from './types';

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
    // reconnect attempts 50 ms, 100 ms, ... at most 1 s apart (jittered): postgres.js' default grows to 20 s,
    // and every query queued meanwhile waits that long after the database is back
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
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
  const run = async <Row>(target: postgres.Sql | postgres.TransactionSql, text: string, params: readonly unknown[] | undefined, deadlineMs: number) => {
    active++;
    const pending = target.unsafe(text, (params ?? []) as postgres.ParameterOrJSON<never>[]);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!deadlineMs) return (await pending) as unknown as Row[];
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // a queued statement is dropped, a running one cancelled on the server: its connection comes back
          Promise.resolve(pending.cancel() as unknown).catch(() => {});
          reject(new DatabaseUnavailable(`The database did not answer within ${deadlineMs} ms`, '57014'));
        }, deadlineMs);
      });
      return (await Promise.race([pending, expired])) as unknown as Row[];
    } catch (error) {
      throw asUnavailable(error);
    } finally {
      clearTimeout(timer);
      active--;
    }
  };
  const view = (deadlineMs: number): Database => ({
    kind: 'postgres',
    query: (text, params) => run(sql, text, params, deadlineMs),
    exec: async (script) => {
      try {
        await sql.unsafe(script).simple();
      } catch (error) {
        throw asUnavailable(error);
      }
    },
    transaction: async (work) => {
      try {
        return (await sql.begin((tx) => {
          const scoped: Queryable = {
            query: (text, params) => run(tx, text, params, deadlineMs),
            exec: async (script) => void (await tx.unsafe(script).simple()),
          };
          return work(scoped);
        })) as Awaited<ReturnType<typeof work>>;
      } catch (error) {
        throw asUnavailable(error);
      }
    },
    withDeadline: (ms) => view(ms),
    poolStats: () => ({ active: Math.min(active, max), idle: Math.max(0, max - active), max }),
    close: () => sql.end({ timeout: 5 }),
  });
  return view(0);
}
