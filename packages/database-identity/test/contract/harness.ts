import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrate, openDatabase, type Database } from '../../src';
import { embeddedTemplate, postgresTemplateClause } from '../../src/testing';

/**
 * The drivers every contract test runs against: the embedded database always, and real Postgres when
 * TEST_DATABASE_URL is set. Each Postgres test file gets a database of its own, dropped afterwards.
 */
export interface DriverUnderTest {
  name: string;
  /** An empty database (tests of the migrations themselves). */
  open(): Promise<Database>;
  /** A migrated database, copied from the run's template where there is one (src/testing.ts). */
  openMigrated(): Promise<Database>;
  /** Drops what `open` created. */
  cleanup(): Promise<void>;
}

export function driversUnderTest(): DriverUnderTest[] {
  const drivers: DriverUnderTest[] = [embedded()];
  if (process.env.TEST_DATABASE_URL) drivers.push(server(process.env.TEST_DATABASE_URL));
  return drivers;
}

function embedded(): DriverUnderTest {
  return {
    name: 'embedded (PGlite)',
    open: () => openDatabase({}),
    openMigrated: async () => migrated(await openDatabase({ embeddedTemplate: embeddedTemplate() })),
    cleanup: async () => {},
  };
}

/** The template is migrated already; migrate() then only checks the ledger (and applies what it lacks). */
async function migrated(db: Database): Promise<Database> {
  await migrate(db);
  return db;
}

function server(adminUrl: string): DriverUnderTest {
  const created: string[] = [];
  const create = async (template: string) => {
    const name = `idp_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}${template}`);
    await admin.end();
    created.push(name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return openDatabase({ databaseUrl: url.toString(), maxConnections: 4 });
  };
  return {
    name: 'postgres',
    open: () => create(''),
    openMigrated: async () => migrated(await create(postgresTemplateClause())),
    async cleanup() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      for (const name of created.splice(0)) await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * Rollups seal an hour seal_grace after it ends, by the wall clock. A test comparing an incremental pass with
 * a rebuild must not straddle that edge (the rebuild would seal one hour more): when the next edge is less
 * than `marginMs` away, this waits until it has passed.
 */
export async function awayFromSealingEdge(db: Pick<Database, 'query'>, marginMs: number): Promise<void> {
  const [{ ms }] = await db.query<{ ms: number }>(
    `select (extract(epoch from date_trunc('hour', now(), 'UTC') + seal_grace - now()) * 1000)::float8 as ms from identity.token_rollup_state`,
  );
  if (ms > 0 && ms < marginMs) await new Promise((resolve) => setTimeout(resolve, ms + 1000));
}
