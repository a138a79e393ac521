import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMigrationsDir, migrate, type Database } from '../../src';
import { driversUnderTest } from './harness';

/**
 * supabase/schemas (the declared schema) and supabase/migrations (how databases get there) must produce the
 * same `identity` schema. Both are loaded into empty databases and their catalogs compared as sorted lists
 * of one line (or one definition) per object, so a failure names exactly the objects that differ: a
 * migration that is not reflected in supabase/schemas, or a schema edit without its forward migration.
 */
describe.each(driversUnderTest())('declared schema against migrations on $name', (driver) => {
  afterAll(() => driver.cleanup());

  it('migrating an empty database gives the catalog that loading supabase/schemas gives', async () => {
    const migrated = await driver.open();
    const declared = await driver.open();
    try {
      await migrate(migrated, findMigrationsDir());
      const definitions = await loadDeclaredSchema(declared);
      // every function is declared exactly once (no second `create or replace` further down)
      const [{ functions }] = await declared.query<{ functions: number }>(
        `select count(*)::int as functions from pg_proc where pronamespace = 'identity'::regnamespace`,
      );
      expect(definitions).toBe(functions);
      const [fromMigrations, fromSchemas] = await Promise.all([catalog(migrated), catalog(declared)]);
      expect(fromMigrations.length).toBeGreaterThan(100);
      const inSchemas = new Set(fromSchemas);
      const inMigrations = new Set(fromMigrations);
      expect(
        {
          onlyAfterMigrations: fromMigrations.filter((item) => !inSchemas.has(item)),
          onlyInSchemas: fromSchemas.filter((item) => !inMigrations.has(item)),
        },
        'supabase/schemas and supabase/migrations disagree. onlyAfterMigrations: what the migrations make and the ' +
          'declared schema lacks (declare it in supabase/schemas); onlyInSchemas: declared, but no migration makes ' +
          'it (add a forward migration). An object in both lists differs between them.',
      ).toEqual({ onlyAfterMigrations: [], onlyInSchemas: [] });
    } finally {
      await Promise.all([migrated.close(), declared.close()]);
    }
  });
});

/**
 * Applies supabase/schemas/*.sql in lexical order, each file in its own transaction (as migrations run);
 * returns how many function definitions the files hold.
 */
async function loadDeclaredSchema(db: Database): Promise<number> {
  const dir = join(dirname(findMigrationsDir()), 'schemas');
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort();
  expect(files.length).toBeGreaterThan(0);
  let definitions = 0;
  for (const file of files) {
    const sql = readFileSync(join(dir, file), 'utf8');
    definitions += sql.match(/^create (or replace )?function /gim)?.length ?? 0;
    await db.transaction((tx) => tx.exec(sql));
  }
  return definitions;
}

// The migration runner's ledger is migrate.ts's, not part of the declared schema.
const LEDGER = 'schema_migrations';

/** Everything in schema `identity` that a migration can change, one sorted string per object. */
async function catalog(db: Database): Promise<string[]> {
  const lines: string[] = [];
  const add = async (sql: string) => {
    for (const row of await db.query<{ item: string }>(sql)) lines.push(row.item);
  };
  const rel = `c.relnamespace = 'identity'::regnamespace and c.relname <> '${LEDGER}' and c.relname not like '${LEDGER}\\_%'`;

  await add(`select 'schema identity acl=' || coalesce(nspacl::text, 'default') as item from pg_namespace where nspname = 'identity'`);
  // functions: the whole definition (header options such as rows and set, and the body), owner-independent
  await add(`
    select 'function ' || p.oid::regprocedure::text || ' acl=' || coalesce(p.proacl::text, 'default')
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '') || E'\\n' || pg_get_functiondef(p.oid) as item
      from pg_proc p where p.pronamespace = 'identity'::regnamespace and p.prokind in ('f', 'p')`);
  await add(`
    select 'relation ' || c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
           || ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity
           || ' options=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, 'default')
           || ' partition_of=' || coalesce((select i.inhparent::regclass::text from pg_inherits i where i.inhrelid = c.oid), '')
           || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '')
           || ' partition_key=' || coalesce(case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end, '')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') as item
      from pg_class c where ${rel} and c.relkind in ('r', 'p', 'v', 'm', 'S', 'c', 'f')`);
  // columns in order (position among the live columns: a dropped column leaves a gap in attnum)
  await add(`
    select 'column ' || c.relname || '.' || a.attname
           || ' #' || row_number() over (partition by c.oid order by a.attnum)
           || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' collate=' || coalesce((select co.collname from pg_collation co where co.oid = a.attcollation and a.attcollation <> t.typcollation), '')
           || ' not_null=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
           || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
           || ' storage=' || a.attstorage::text || ' compression=' || a.attcompression::text
           || ' acl=' || coalesce(a.attacl::text, 'default') as item
      from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_type t on t.oid = a.atttypid
      left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
     where ${rel} and c.relkind in ('r', 'p', 'v', 'm', 'c', 'f')`);
  await add(`
    select 'index ' || pg_get_indexdef(i.indexrelid) as item
      from pg_index i join pg_class c on c.oid = i.indrelid where ${rel}`);
  await add(`
    select 'constraint ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid) as item
      from pg_constraint k join pg_class c on c.oid = k.conrelid where ${rel}`);
  await add(`
    select 'trigger ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text as item
      from pg_trigger g join pg_class c on c.oid = g.tgrelid where ${rel} and not g.tgisinternal`);
  await add(`
    select 'view ' || c.relname || E'\\n' || pg_get_viewdef(c.oid, true) as item
      from pg_class c where ${rel} and c.relkind in ('v', 'm')`);
  await add(`
    select 'policy ' || p.tablename || '.' || p.policyname || ' ' || p.permissive || ' ' || p.cmd || ' to ' || p.roles::text
           || ' using ' || coalesce(p.qual, '') || ' check ' || coalesce(p.with_check, '') as item
      from pg_policies p where p.schemaname = 'identity'`);
  await add(`
    select 'sequence ' || c.relname || ' ' || format_type(s.seqtypid, null) || ' start=' || s.seqstart || ' increment=' || s.seqincrement
           || ' min=' || s.seqmin || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
           || ' owned_by=' || coalesce((select r.relname || '.' || a.attname from pg_depend d
                                          join pg_class r on r.oid = d.refobjid
                                          join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                                         where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')), '') as item
      from pg_sequence s join pg_class c on c.oid = s.seqrelid where ${rel}`);
  await add(`
    select 'type ' || t.typname || ' ' || t.typtype::text
           || coalesce(' labels=' || (select string_agg(e.enumlabel, ',' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), '')
           || coalesce(' base=' || format_type(nullif(t.typbasetype, 0), t.typtypmod), '') as item
      from pg_type t
     where t.typnamespace = 'identity'::regnamespace and t.typname not like '\\_%'
       and (t.typrelid = 0 or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')`);
  // rows seeded by the schema (settings, the sealing state, the revocation epoch); every other table is empty
  const tables = await db.query<{ name: string }>(`select c.relname as name from pg_class c where ${rel} and c.relkind = 'r' order by 1`);
  for (const { name } of tables) {
    await add(`select 'row ${name} ' || row_to_json(t)::text as item from identity.${name} t`);
  }
  return lines.sort();
}
