import { PGlite } from '@electric-sql/pglite';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, Queryable } from './types';

export interface EmbeddedOptions {
  /** Directory to persist to; omit for an in-memory database (tests). */
  dataDir?: string;
  /**
   * A dump (PGlite `dumpDataDir`) to start from when the directory is empty or absent: tests start from an
   * initialised, migrated database instead of paying initdb (most of an embedded open) each time.
   */
  template?: Blob;
}

/**
 * Embedded Postgres (PGlite, WASM). One connection in one process, so a data directory must never be
 * opened by two processes at once. PGlite serialises queries itself; a transaction holds it exclusively.
 */
export async function openEmbedded(options: EmbeddedOptions = {}): Promise<Database> {
  return (await openEmbeddedWithDump(options)).db;
}

/** openEmbedded, plus a dump of the database as it is then (src/testing.ts makes templates with it). */
export async function openEmbeddedWithDump(options: EmbeddedOptions = {}): Promise<{ db: Database; dump(): Promise<Blob> }> {
  const releaseLock = options.dataDir ? lockDataDir(options.dataDir) : () => {};
  const pg = new PGlite({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.template ? { loadDataDir: options.template } : {}),
    // numeric as a JS number, as the server driver does, so callers see one shape.
    parsers: { 1700: (value: string) => Number(value) },
  });
  await pg.waitReady;
  let busy = 0;
  const run = async <Row>(target: Pick<PGlite, 'query'>, sql: string, params?: readonly unknown[]) => {
    busy++;
    try {
      const result = await target.query<Row>(sql, params as unknown[] | undefined);
      return result.rows;
    } finally {
      busy--;
    }
  };
  const db: Database = {
    kind: 'embedded',
    query: (sql, params) => run(pg, sql, params),
    exec: async (script) => void (await pg.exec(script)),
    transaction: (work) =>
      pg.transaction((tx) => {
        const scoped: Queryable = {
          query: (sql, params) => run(tx, sql, params),
          exec: async (script) => void (await tx.exec(script)),
        };
        return work(scoped);
      }),
    // in-process: no network to hang on, so no deadline
    withDeadline: () => db,
    poolStats: () => ({ active: busy > 0 ? 1 : 0, idle: busy > 0 ? 0 : 1, max: 1 }),
    close: async () => {
      await pg.close();
      releaseLock();
    },
  };
  return { db, dump: () => pg.dumpDataDir('none') };
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The embedded database in ${dataDir} is open in process ${pid}. PGlite allows one process at a time: ` +
        'stop the provider first, or set DATABASE_URL to use a Postgres server that many processes can share.',
    );
    this.name = 'DataDirInUseError';
  }
}

/** A pid file beside the data: opening one PGlite directory from two processes would corrupt it. */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = join(/*turbopackIgnore: true*/ dataDir, '..', `${dataDir.split(/[\\/]/).pop()}.lock`);
  try {
    const holder = Number(readFileSync(lockFile, 'utf8'));
    if (holder && holder !== process.pid && isAlive(holder)) throw new DataDirInUseError(dataDir, holder);
  } catch (error) {
    if (error instanceof DataDirInUseError) throw error;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
