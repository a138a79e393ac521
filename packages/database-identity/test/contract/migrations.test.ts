import { mkdtempSync, cpSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMigrationsDir, migrate, MigrationChecksumError, readMigrations } from '../../src';
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
      const rows = await db.query<{ version: string; checksum: string }>(
        'select version, checksum from identity.schema_migrations order by version',
      );
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
      writeFileSync(
        join(dir, '99990101000000_broken.sql'),
        'create table identity.half_done (id int);\nselect * from identity.no_such_table;\n',
      );
      await expect(migrate(db, dir)).rejects.toThrow(/no_such_table/);
      const tables = await db.query(`select 1 from information_schema.tables where table_schema = 'identity' and table_name = 'half_done'`);
      expect(tables).toEqual([]);
      const recorded = await db.query(`select 1 from identity.schema_migrations where version = '99990101000000'`);
      expect(recorded).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
