/**
 * Test support: migrated templates. Initialising an embedded database (initdb in WASM) is most of what
 * opening one costs, and migrating a fresh one is the rest; a test suite that opens hundreds of databases
 * starts each from a template made once per run instead (`prepareTestTemplates` in vitest's globalSetup).
 * Templates are named by a digest of the migrations, so a changed migration can never be served stale.
 * Tests of the migrations themselves (migrations.test.ts, schema-drift.test.ts) still start empty.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { openEmbeddedWithDump } from './driver/pglite';
import { findMigrationsDir, migrate, readMigrations } from './migrate';

/** Path of the embedded template (a PGlite dump), set by prepareTestTemplates for the test workers. */
const EMBEDDED_TEMPLATE_ENV = 'IDP_TEST_EMBEDDED_TEMPLATE';
/** Name of the migrated template database on the test Postgres server. */
const POSTGRES_TEMPLATE_ENV = 'IDP_TEST_POSTGRES_TEMPLATE';

function migrationsDigest(dir: string): string {
  const digest = createHash('sha256');
  for (const file of readMigrations(dir)) digest.update(`${file.name}:${file.checksum}\n`);
  return digest.digest('hex').slice(0, 16);
}

/**
 * Makes the templates the test databases start from, unless this run's migrations already have them:
 * an embedded dump under the OS temp directory, and with `postgresUrl` a migrated database on that server
 * (`idp_template_<digest>`; older ones are dropped). Idempotent; the results reach the workers via env.
 */
export async function prepareTestTemplates(options: { postgresUrl?: string; migrationsDir?: string } = {}): Promise<void> {
  const dir = options.migrationsDir ?? findMigrationsDir();
  const digest = migrationsDigest(dir);

  const file = join(tmpdir(), 'idp-test-templates', `embedded-${digest}.tar`);
  if (!existsSync(file)) {
    const { db, dump: dumpDatabase } = await openEmbeddedWithDump();
    await migrate(db, dir);
    const dump = await dumpDatabase();
    await db.close();
    mkdirSync(join(tmpdir(), 'idp-test-templates'), { recursive: true });
    // written whole, then renamed: a concurrent run never reads half a template
    const partial = `${file}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  }
  process.env[EMBEDDED_TEMPLATE_ENV] = file;

  if (options.postgresUrl) {
    const name = `idp_template_${digest}`;
    const admin = postgres(options.postgresUrl, { max: 1, onnotice: () => {} });
    try {
      const [{ present }] = await admin<{ present: boolean }[]>`select exists (select 1 from pg_database where datname = ${name}) as present`;
      if (!present) {
        const building = `idp_template_build_${randomBytes(4).toString('hex')}`;
        await admin.unsafe(`create database ${building}`);
        const url = new URL(options.postgresUrl);
        url.pathname = `/${building}`;
        const { openServer } = await import('./driver/postgres');
        const db = await openServer({ url: url.toString(), maxConnections: 1 });
        await migrate(db, dir);
        await db.close();
        await admin.unsafe(`alter database ${building} rename to ${name}`).catch(async (error: { code?: string }) => {
          // another run built it meanwhile: theirs is as good
          if (error.code !== '42P04') throw error;
          await admin.unsafe(`drop database if exists ${building} with (force)`);
        });
      }
      const stale = await admin<{ datname: string }[]>`select datname from pg_database where datname like 'idp\\_template\\_%' and datname <> ${name}`;
      for (const { datname } of stale) await admin.unsafe(`drop database if exists ${datname} with (force)`).catch(() => {});
      process.env[POSTGRES_TEMPLATE_ENV] = name;
    } finally {
      await admin.end();
    }
  }
}

let embedded: Blob | undefined;

/** The migrated embedded template of this run, if prepareTestTemplates made one (read once per process). */
export function embeddedTemplate(): Blob | undefined {
  const file = process.env[EMBEDDED_TEMPLATE_ENV];
  if (!file) return undefined;
  embedded ??= new Blob([readFileSync(file)]);
  return embedded;
}

/** `template <name>` for `create database` when a migrated Postgres template exists, else ''. */
export function postgresTemplateClause(): string {
  const name = process.env[POSTGRES_TEMPLATE_ENV];
  return name ? ` template ${name}` : '';
}

/**
 * Fills an embedded data directory that does not exist yet with the run's template, so a provider process
 * started on it skips initdb and migrations too. Returns whether it did (no template: the provider starts
 * empty, as in production).
 */
export function primeEmbeddedDataDir(dataDir: string): boolean {
  const file = process.env[EMBEDDED_TEMPLATE_ENV];
  if (!file || existsSync(dataDir)) return false;
  mkdirSync(dataDir, { recursive: true });
  // the dump is a plain tar of the data directory (PGlite dumpDataDir 'none')
  execFileSync('tar', ['-xf', file, '-C', dataDir]);
  return true;
}
