import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditWriter, createIdentityStore, migrate, openDatabase, type Database } from '../../src';
import { embeddedTemplate, postgresTemplateClause } from '../../src/testing';
import { driversUnderTest } from './harness';

const TOTAL = 6000;

/**
 * Makes the database unavailable and available again. On Postgres for real: connections are refused
 * and existing ones terminated. PGlite runs in-process and cannot be stopped, so there a wrapper fails
 * every query with a connection error while "down" (the only stand-in in this suite).
 */
interface Outage {
  db: Database;
  down(): Promise<void>;
  up(): Promise<void>;
}

async function embeddedOutage(): Promise<Outage> {
  const real = await openDatabase({ embeddedTemplate: embeddedTemplate() });
  let isDown = false;
  const fail = () => Promise.reject(Object.assign(new Error('connection to server was lost'), { code: '08006' }));
  const db: Database = {
    ...real,
    query: (sql, params) => (isDown ? fail() : real.query(sql, params)),
    exec: (script) => (isDown ? fail() : real.exec(script)),
    transaction: (work) => (isDown ? fail() : real.transaction(work)),
  };
  return { db, down: async () => void (isDown = true), up: async () => void (isDown = false) };
}

async function postgresOutage(adminUrl: string, name: string): Promise<Outage> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}${postgresTemplateClause()}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ databaseUrl: url.toString(), maxConnections: 4, connectTimeoutSeconds: 2 });
  return {
    db,
    async down() {
      await admin.unsafe(`alter database ${name} allow_connections false`);
      await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);
    },
    async up() {
      await admin.unsafe(`alter database ${name} allow_connections true`);
    },
  };
}

describe.each(driversUnderTest())('audit writer on $name', (driver) => {
  const adminUrl = process.env.TEST_DATABASE_URL;
  const dbName = `idp_audit_${Date.now().toString(36)}`;
  afterAll(async () => {
    await driver.cleanup();
    if (driver.name === 'postgres' && adminUrl) {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    }
  });

  it(`loses nothing and duplicates nothing across a database outage (${TOTAL} events)`, async () => {
    const outage = driver.name === 'postgres' ? await postgresOutage(adminUrl!, dbName) : await embeddedOutage();
    await migrate(outage.db);
    const spoolDir = mkdtempSync(join(tmpdir(), 'audit-spool-'));
    const errors: unknown[] = [];
    const writer = new AuditWriter(outage.db, { batchSize: 250, flushIntervalMs: 20, retryIntervalMs: 100, spoolDir, onError: (e) => errors.push(e) });
    const emit = (i: number) =>
      writer.record({ action: 'token.issued.client_credentials', clientId: `client-${i % 7}`, grantType: 'client_credentials', details: { seq: i } });

    for (let i = 0; i < TOTAL / 3; i++) {
      emit(i);
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await writer.flush();
    await outage.down();
    for (let i = TOTAL / 3; i < (2 * TOTAL) / 3; i++) {
      emit(i);
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await writer.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(writer.stats().databaseAvailable).toBe(false);
    expect(writer.stats().spoolBytes).toBeGreaterThan(0);
    await outage.up();
    for (let i = (2 * TOTAL) / 3; i < TOTAL; i++) emit(i);
    await writer.close();

    const [counts] = await outage.db.query<{ total: number; distinct_events: number; distinct_seq: number }>(
      `select count(*)::int as total, count(distinct event_id)::int as distinct_events, count(distinct details->>'seq')::int as distinct_seq
         from identity.audit_logs where action = 'token.issued.client_credentials'`,
    );
    expect(counts).toEqual({ total: TOTAL, distinct_events: TOTAL, distinct_seq: TOTAL });
    expect(writer.stats()).toMatchObject({ queued: 0, spoolBytes: 0, dropped: 0 });
    expect(existsSync(join(spoolDir, 'audit-spool.jsonl'))).toBe(false);
    await outage.db.close();
  });

  it('a spool left by a crashed process is replayed at the next start, exactly once', async () => {
    const db = await driver.openMigrated();
    const spoolDir = mkdtempSync(join(tmpdir(), 'audit-spool-'));
    const unreachable: Database = { ...db, query: () => Promise.reject(Object.assign(new Error('down'), { code: '57P01' })) };
    const first = new AuditWriter(unreachable, { spoolDir, retryIntervalMs: 60_000 });
    for (let i = 0; i < 300; i++) first.record({ action: 'auth.login_failed', details: { seq: i } });
    await first.close(); // everything now on disk
    expect(first.stats().spoolBytes).toBeGreaterThan(0);

    const second = new AuditWriter(db, { spoolDir });
    second.record({ action: 'auth.login_succeeded' });
    await second.close();
    const rows = await db.query<{ action: string; n: number }>(`select action, count(*)::int as n from identity.audit_logs group by action order by action`);
    expect(rows).toEqual([
      { action: 'auth.login_failed', n: 300 },
      { action: 'auth.login_succeeded', n: 1 },
    ]);
    await db.close();
  });

  it('under a steady stream of events, inserts are full batches (not one per arrival during the last insert)', async () => {
    const db = await driver.openMigrated();
    const batchSizes: number[] = [];
    const counting: Database = {
      ...db,
      query: (sql, params) => {
        if (sql.includes('insert into identity.audit_logs')) batchSizes.push((JSON.parse(String(params?.[0])) as unknown[]).length);
        return db.query(sql, params);
      },
    };
    const writer = new AuditWriter(counting, { batchSize: 100, flushIntervalMs: 60_000 });
    // a few events arrive while each insert is in flight (one per millisecond)
    for (let i = 0; i < 1000; i++) {
      writer.record({ action: 'token.issued.client_credentials', clientId: 'c', details: { seq: i } });
      await new Promise((r) => setTimeout(r, 1));
    }
    await writer.close();
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(1000);
    // ten full batches; at most the close writes what was left of an eleventh
    expect(batchSizes.slice(0, 10)).toEqual(Array(10).fill(100));
    expect(batchSizes.length).toBeLessThanOrEqual(11);
    const [row] = await db.query<{ n: number }>(`select count(distinct details->>'seq')::int as n from identity.audit_logs`);
    expect(row.n).toBe(1000);
    await db.close();
  });

  it('writes the audience column (bounded; empty is the default audience), and the analytics count it per API', async () => {
    const db = await driver.openMigrated();
    const writer = new AuditWriter(db, { batchSize: 10 });
    const at = new Date(Date.now() - 5 * 60_000);
    const issued = (audience: string | null | undefined) =>
      writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', grantType: 'client_credentials', audience, at });
    issued('https://api.example.com');
    issued('https://api.example.com');
    issued('https://a.example https://b.example');
    issued('');
    issued(null);
    issued(undefined);
    issued(`https://long.example/${'x'.repeat(3000)}`);
    await writer.close();
    const rows = await db.query<{ audience: string | null; n: number }>(
      `select audience, count(*)::int as n from identity.audit_logs group by 1 order by audience collate "C" nulls first`,
    );
    expect(rows.map((r) => [r.audience === null ? null : r.audience.slice(0, 40), Buffer.byteLength(r.audience ?? ''), r.n])).toEqual([
      [null, 0, 3],
      ['https://a.example https://b.example', 35, 1],
      ['https://api.example.com', 23, 2],
      [`https://long.example/${'x'.repeat(19)}`, 1024, 1],
    ]);
    const store = createIdentityStore(db, 'k'.repeat(16) + 'contract-suite-key-material');
    const dashboard = await store.analytics.dashboard({ start: new Date(at.getTime() - 60_000), end: new Date(at.getTime() + 60_000) });
    expect(dashboard.by_audience.map((a) => [a.audience?.slice(0, 40) ?? null, a.issued])).toEqual([
      [null, 3],
      ['https://api.example.com', 2],
      ['https://a.example https://b.example', 1],
      [`https://long.example/${'x'.repeat(19)}`, 1],
    ]);
    await db.close();
  });

  it('a malformed row does not block its batch', async () => {
    const db = await driver.openMigrated();
    const writer = new AuditWriter(db, { batchSize: 10 });
    writer.record({ action: 'token.userinfo_accessed', userId: 'not-a-uuid', ip: 'not-an-ip' });
    for (let i = 0; i < 5; i++) writer.record({ action: 'token.userinfo_accessed', ip: '192.0.2.1' });
    await writer.close();
    const [row] = await db.query<{ n: number; sanitized: number }>(
      `select count(*)::int as n, count(*) filter (where details ? 'malformed_fields_dropped')::int as sanitized from identity.audit_logs`,
    );
    expect(row).toEqual({ n: 6, sanitized: 1 });
    await db.close();
  });
});
