import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Database } from './driver';

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export class MigrationChecksumError extends Error {
  constructor(
    readonly version: string,
    readonly file: string,
  ) {
    super(
      `Migration ${file} was changed after it was applied (checksum differs). ` +
        'Migrations are forward-only: restore the file and add a new migration instead.',
    );
    this.name = 'MigrationChecksumError';
  }
}

/**
 * The database records applied migrations that the migrations directory does not have (below its newest
 * file): its history and ours have diverged, and applying ours on top would fail halfway or corrupt it.
 * The pre-release migrations were squashed into baselines on 1 December 2026; a development database made
 * before that must be re-created. (Versions newer than every file are accepted: a newer release migrated
 * the database, and an older instance may still run against it during a rolling deploy.)
 */
export class MigrationHistoryError extends Error {
  constructor(readonly unknown: readonly string[]) {
    super(
      `This database records migrations that supabase/migrations does not have: ${unknown.join(', ')}. ` +
        'They were squashed or removed (the pre-release migrations were squashed into baselines on 1 December 2026), ' +
        'so this database cannot be migrated. If it is a development database, re-create it: stop the provider and ' +
        'delete the embedded database directory (DATA_DIR, ./.data by default), or drop and re-create the server database.',
    );
    this.name = 'MigrationHistoryError';
  }
}

/** Finds `supabase/migrations` by walking up from `start` (the repo root when run from any package). */
export function findMigrationsDir(start: string = process.cwd()): string {
  let dir = resolve(/*turbopackIgnore: true*/ start);
  for (;;) {
    const candidate = join(/*turbopackIgnore: true*/ dir, 'supabase', 'migrations');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No supabase/migrations directory found above ${start}`);
    dir = parent;
  }
}

/** Supabase CLI naming: `<timestamp>_<name>.sql`; applied in timestamp order. */
export function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(/*turbopackIgnore: true*/ dir)
    .filter((file) => /^\d+_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(/*turbopackIgnore: true*/ dir, file), 'utf8');
      const [version] = file.split('_', 1);
      return { version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const LEDGER = `
  create schema if not exists identity;
  create table if not exists identity.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  );`;

/**
 * Applies every migration not yet recorded, in order, each in its own transaction together with its
 * ledger row. Refuses to run, before applying anything, if a recorded migration's file has changed
 * (MigrationChecksumError) or is missing (MigrationHistoryError). Concurrent runners on the same
 * database serialise on an advisory transaction lock, so each migration applies exactly once.
 */
export async function migrate(db: Database, dir: string = findMigrationsDir()): Promise<MigrationResult> {
  const files = readMigrations(dir);
  await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(7262021)');
    await tx.exec(LEDGER);
  });
  const recorded = await db.query<{ version: string; checksum: string; name: string }>('select version, checksum, name from identity.schema_migrations');
  const byVersion = new Map(recorded.map((row) => [row.version, row]));
  const fileNames = new Map(files.map((file) => [file.version, file.name]));
  const newest = BigInt(files.length > 0 ? files[files.length - 1].version : 0);
  const unknown = recorded
    .filter((row) => fileNames.get(row.version) !== row.name && (fileNames.has(row.version) || BigInt(row.version) < newest))
    .map((row) => row.name)
    .sort();
  if (unknown.length > 0) throw new MigrationHistoryError(unknown);
  for (const file of files) {
    const row = byVersion.get(file.version);
    if (row && row.checksum !== file.checksum) throw new MigrationChecksumError(file.version, file.name);
  }
  const applied: string[] = [];
  for (const file of files) {
    if (byVersion.has(file.version)) continue;
    const didApply = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock(7262021)');
      const again = await tx.query('select 1 from identity.schema_migrations where version = $1', [file.version]);
      if (again.length > 0) return false;
      await tx.exec(file.sql);
      await tx.query('insert into identity.schema_migrations (version, name, checksum) values ($1, $2, $3)', [file.version, file.name, file.checksum]);
      return true;
    });
    if (didApply) applied.push(file.name);
  }
  return { applied, alreadyApplied: files.length - applied.length };
}
