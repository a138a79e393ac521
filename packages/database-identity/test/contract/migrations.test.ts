import { mkdtempSync, cpSync, appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMigrationsDir, migrate, MigrationChecksumError, MigrationHistoryError, readMigrations } from '../../src';
import { driversUnderTest } from './harness';

describe.each(driversUnderTest())('migrations on $name', (driver) => {
  afterAll(() => driver.cleanup());

  it('applies every migration once and records each with its checksum', async () => {
    const db = await driver.open();
    try {
      const files = readMigrations(findMigrationsDir());
      const first = await migrate(db);
      expect(first.applied).toEqual(files.map((f) => f.name));
      const second = await migrate(db);
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toBe(files.length);
      const rows = await db.query<{ version: string; checksum: string }>('select version, checksum from identity.schema_migrations order by version');
      expect(rows).toEqual(files.map((f) => ({ version: f.version, checksum: f.checksum })));
    } finally {
      await db.close();
    }
  });

  it('refuses to run when an applied migration file has changed', async () => {
    const db = await driver.open();
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      cpSync(findMigrationsDir(), dir, { recursive: true });
      await migrate(db, dir);
      const [first] = readMigrations(dir);
      appendFileSync(join(dir, first.name), '\n-- edited after the fact\n');
      await expect(migrate(db, dir)).rejects.toBeInstanceOf(MigrationChecksumError);
    } finally {
      await db.close();
    }
  });

  it('rolls back a migration that fails halfway, recording nothing', async () => {
    const db = await driver.open();
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      cpSync(findMigrationsDir(), dir, { recursive: true });
      await migrate(db, dir);
      writeFileSync(join(dir, '99990101000000_broken.sql'), 'create table identity.half_done (id int);\nselect * from identity.no_such_table;\n');
      await expect(migrate(db, dir)).rejects.toThrow(/no_such_table/);
      const tables = await db.query(`select 1 from information_schema.tables where table_schema = 'identity' and table_name = 'half_done'`);
      expect(tables).toEqual([]);
      const recorded = await db.query(`select 1 from identity.schema_migrations where version = '99990101000000'`);
      expect(recorded).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('refuses, before applying anything, a database that records migrations the directory no longer has', async () => {
    const db = await driver.open();
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      // the squash of 1 December 2026 in small: the database was migrated with files that are gone now
      writeFileSync(join(dir, '20200101000000_create_old_thing.sql'), 'create table identity.old_thing (id int);\n');
      writeFileSync(join(dir, '20200102000000_speed_up_old_thing.sql'), 'create index on identity.old_thing (id);\n');
      await migrate(db, dir);
      rmSync(join(dir, '20200101000000_create_old_thing.sql'));
      rmSync(join(dir, '20200102000000_speed_up_old_thing.sql'));
      cpSync(findMigrationsDir(), dir, { recursive: true });
      const refusal = migrate(db, dir);
      await expect(refusal).rejects.toBeInstanceOf(MigrationHistoryError);
      await expect(refusal).rejects.toThrow(
        /20200101000000_create_old_thing\.sql, 20200102000000_speed_up_old_thing\.sql.*delete the embedded database directory \(DATA_DIR, \.\/\.data by default\)/,
      );
      const applied = await db.query(`select 1 from identity.schema_migrations where version <> all($1)`, [['20200101000000', '20200102000000']]);
      expect(applied).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('refuses a database whose recorded migration of the same version has another name', async () => {
    const db = await driver.open();
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      cpSync(findMigrationsDir(), dir, { recursive: true });
      const [first] = readMigrations(dir);
      await migrate(db, dir);
      await db.query('update identity.schema_migrations set name = $1 where version = $2', [`${first.version}_renamed.sql`, first.version]);
      await expect(migrate(db, dir)).rejects.toThrow(new RegExp(`${first.version}_renamed\\.sql`));
    } finally {
      await db.close();
    }
  });

  it('accepts a database a newer release migrated (recorded versions after the newest file)', async () => {
    const db = await driver.open();
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      cpSync(findMigrationsDir(), dir, { recursive: true });
      writeFileSync(join(dir, '99990101000000_from_a_newer_release.sql'), 'create table identity.newer_thing (id int);\n');
      await migrate(db, dir);
      const result = await migrate(db, findMigrationsDir());
      expect(result.applied).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
