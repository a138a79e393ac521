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
  /**
   * A migrated database, copied from the run's template where there is one (src/testing.ts). With
   * `analyticsClock`, every connection's sealing clock (identity.token_clock(), the SQL's injectable "now")
   * stands still at that instant: which hours are sealable cannot change while a test runs.
   */
  openMigrated(options?: { analyticsClock?: Date }): Promise<Database>;
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
    openMigrated: async (options) => {
      const db = await migrated(await openDatabase({ embeddedTemplate: embeddedTemplate() }));
      // one session: a session-level setting reaches every later statement
      if (options?.analyticsClock) await db.query(`select set_config('identity.analytics_clock', $1, false)`, [options.analyticsClock.toISOString()]);
      return db;
    },
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
  const create = async (template: string, analyticsClock?: Date) => {
    const name = `idp_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}${template}`);
    // a pool: the database's default reaches every connection it will open
    if (analyticsClock) await admin.unsafe(`alter database ${name} set identity.analytics_clock = '${analyticsClock.toISOString()}'`);
    await admin.end();
    created.push(name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return openDatabase({ databaseUrl: url.toString(), maxConnections: 4 });
  };
  return {
    name: 'postgres',
    open: () => create(''),
    openMigrated: async (options) => migrated(await create(postgresTemplateClause(), options?.analyticsClock)),
    async cleanup() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      for (const name of created.splice(0)) await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
