import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditWriter, type Database } from '../../src';
import { driversUnderTest } from './harness';

/**
 * Rows the database refuses must not stop the audit trail (issue #12, item 1), and a hanging database must not
 * keep the queue from reaching the spool at shutdown (item 2). Real databases throughout: the refusals are
 * the database's own (index row size, NOT NULL, a missing table), the hang is a real lock.
 */
const HOSTILE_CLIENT_ID = randomBytes(1400).toString('hex'); // 2,800 characters, as in the report

const spoolDir = () => mkdtempSync(join(tmpdir(), 'audit-poison-'));

async function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.each(driversUnderTest())('audit writer with rows the database refuses, on $name', (driver) => {
  const opened: Database[] = [];
  const open = async () => {
    const db = await driver.openMigrated();
    opened.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of opened) await db.close().catch(() => {});
    await driver.cleanup();
  });

  it('a 2,800-character client_id and NUL bytes are recorded sanitised; the batch and every later event are written', async () => {
    const db = await open();
    const errors: unknown[] = [];
    const writer = new AuditWriter(db, {
      batchSize: 50,
      flushIntervalMs: 60_000,
      retryIntervalMs: 60_000,
      spoolDir: spoolDir(),
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 10; i++) writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: i } });
    writer.record({
      action: 'client.auth_failed',
      clientId: HOSTILE_CLIENT_ID,
      grantType: 'client_credentials',
      userAgent: `curl\u0000/8 ${'é'.repeat(2000)}`,
      requestId: 'r\u0000q',
      details: { reason: `bad\u0000${'x'.repeat(5000)}`, 'k\u0000ey': ['a\u0000', { deep: 'v\u0000' }], seq: 'poison' },
    });
    for (let i = 10; i < 20; i++) writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: i } });
    await writer.flush();
    // and everything after it
    for (let i = 20; i < 30; i++) writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: i } });
    await writer.close();

    const [good] = await db.query<{ n: number }>(`select count(distinct details->>'seq')::int as n from identity.audit_logs where client_id = 'svc'`);
    expect(good.n).toBe(30);
    const [poison] = await db.query<{ client_id: string; resource_id: string; user_agent: string; request_id: string; details: Record<string, unknown> }>(
      `select client_id, resource_id, user_agent, request_id, details from identity.audit_logs where action = 'client.auth_failed'`,
    );
    expect(Buffer.byteLength(poison.client_id)).toBeLessThanOrEqual(256);
    expect(HOSTILE_CLIENT_ID.startsWith(poison.client_id)).toBe(true);
    expect(poison.resource_id).toBe(poison.client_id);
    // bounded by UTF-8 bytes without splitting a character, NUL gone
    expect(Buffer.byteLength(poison.user_agent)).toBeLessThanOrEqual(512);
    expect(poison.user_agent).toMatch(/^curl\/8 é+$/);
    expect(poison.request_id).toBe('rq');
    expect(poison.details).toMatchObject({ seq: 'poison', key: ['a', { deep: 'v' }] });
    expect(String(poison.details.reason)).toMatch(/^badx+$/);
    expect(Buffer.byteLength(String(poison.details.reason))).toBeLessThanOrEqual(1024);
    // visible, never silent
    expect(poison.details.truncated).toEqual(expect.arrayContaining(['client_id', 'user_agent', 'details.reason']));
    expect(poison.details.sanitized).toEqual(expect.arrayContaining(['user_agent', 'request_id', 'details.reason']));
    expect(writer.stats()).toMatchObject({ queued: 0, spoolBytes: 0, dropped: 0, deadLettered: 0, databaseAvailable: true });
    expect(errors).toEqual([]);
  });

  it('a row refused for good is dead-lettered with its error; the rest of its batch and later events are written', async () => {
    const db = await open();
    const writer = new AuditWriter(db, { batchSize: 64, flushIntervalMs: 60_000, retryIntervalMs: 60_000, spoolDir: spoolDir(), onError: () => {} });
    const badId = randomUUID();
    for (let i = 0; i < 40; i++) {
      if (i === 23)
        writer.record({ eventId: badId, action: null as unknown as string, clientId: 'svc', details: { seq: i } }); // NOT NULL: 23502
      else writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: i } });
    }
    await writer.flush();
    for (let i = 40; i < 50; i++) writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: i } });
    await writer.close();

    const [written] = await db.query<{ n: number }>(`select count(*)::int as n from identity.audit_logs`);
    expect(written.n).toBe(49);
    const letters = await db.query<{ event_id: string; error_code: string; error_message: string; event: Record<string, unknown>; failures: number }>(
      `select event_id, error_code, error_message, event, failures from identity.audit_dead_letters`,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ event_id: badId, error_code: '23502', failures: 1, event: { event_id: badId, client_id: 'svc', details: { seq: 23 } } });
    expect(letters[0].error_message).toMatch(/action/);
    expect(writer.stats()).toMatchObject({ written: 49, deadLettered: 1, dropped: 0, queued: 0, spoolBytes: 0, databaseAvailable: true });
  });

  it('when the database refuses the dead letter too, it goes to the dead-letter file beside the spool', async () => {
    const db = await open();
    await db.exec(`alter table identity.audit_dead_letters rename to audit_dead_letters_gone`);
    const dir = spoolDir();
    const writer = new AuditWriter(db, { batchSize: 10, flushIntervalMs: 60_000, retryIntervalMs: 60_000, spoolDir: dir, onError: () => {} });
    const badId = randomUUID();
    writer.record({ action: 'token.revoked', details: { seq: 0 } });
    writer.record({ eventId: badId, action: null as unknown as string, details: { seq: 1, note: 'n\u0000ul' } });
    writer.record({ action: 'token.revoked', details: { seq: 2 } });
    await writer.close();

    const [written] = await db.query<{ n: number }>(`select count(*)::int as n from identity.audit_logs`);
    expect(written.n).toBe(2);
    const lines = readFileSync(join(dir, 'audit-dead-letters.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event_id: badId, error_code: '23502', event: { details: { seq: 1, note: 'nul' } }, dead_letter_error: { code: '42P01' } });
    expect(writer.stats()).toMatchObject({ deadLettered: 1, dropped: 0, spoolBytes: 0, databaseAvailable: true });
    await db.exec(`alter table identity.audit_dead_letters_gone rename to audit_dead_letters`);
  });

  it('a spool holding rows the database refuses (as an earlier version wrote it) is drained, not replayed forever', async () => {
    const db = await open();
    const dir = spoolDir();
    const at = new Date().toISOString();
    const line = (event: Record<string, unknown>) => JSON.stringify({ eventId: randomUUID(), at, ...event });
    const poisonId = randomUUID();
    // written as the old writer spooled them: unbounded, NULs and all (JSON-escaped, as JSON.stringify writes them)
    writeFileSync(
      join(dir, 'audit-spool.jsonl'),
      [
        line({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: 0 } }),
        line({ action: 'client.auth_failed', clientId: HOSTILE_CLIENT_ID, resourceId: HOSTILE_CLIENT_ID, details: { seq: 1 } }),
        line({ action: 'token.issued.client_credentials', clientId: 'svc', userAgent: 'a\u0000b', details: { seq: 2, reason: 'x\u0000' } }),
        JSON.stringify({ eventId: poisonId, at, action: null, details: { seq: 3 } }),
        line({ action: 'token.issued.client_credentials', clientId: 'svc', details: { seq: 4 } }),
      ].join('\n') + '\n',
    );

    const writer = new AuditWriter(db, { batchSize: 500, flushIntervalMs: 60_000, retryIntervalMs: 60_000, spoolDir: dir, onError: () => {} });
    writer.record({ action: 'auth.login_succeeded', details: { seq: 5 } });
    await writer.flush();
    expect(existsSync(join(dir, 'audit-spool.jsonl'))).toBe(false);
    expect(existsSync(join(dir, 'audit-spool.replaying.jsonl'))).toBe(false);
    writer.record({ action: 'auth.logout', details: { seq: 6 } });
    await writer.close();

    const rows = await db.query<{ seq: string; client_id: string | null; user_agent: string | null }>(
      `select details->>'seq' as seq, client_id, user_agent from identity.audit_logs order by (details->>'seq')::int`,
    );
    expect(rows.map((r) => r.seq)).toEqual(['0', '1', '2', '4', '5', '6']);
    expect(rows[1].client_id).toBe(HOSTILE_CLIENT_ID.slice(0, 256));
    expect(rows[2].user_agent).toBe('ab');
    const letters = await db.query<{ event_id: string; error_code: string }>(`select event_id, error_code from identity.audit_dead_letters`);
    expect(letters).toEqual([{ event_id: poisonId, error_code: '23502' }]);
    expect(writer.stats()).toMatchObject({ deadLettered: 1, spoolBytes: 0, queued: 0, databaseAvailable: true });
  });

  it('close() spools the queue and the insert in flight by its deadline while the database hangs; the next start writes each event once', async () => {
    const db = await open();
    const dir = spoolDir();
    // a real hang: another transaction holds audit_logs exclusively, so the writer's insert waits on the lock
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const blocker = db.transaction(async (tx) => {
      await tx.query(`lock table identity.audit_logs in access exclusive mode`);
      locked();
      await held;
    });
    await isLocked;

    const writer = new AuditWriter(db, { batchSize: 100, flushIntervalMs: 10, retryIntervalMs: 60_000, spoolDir: dir, closeDeadlineMs: 60_000 });
    const ids: string[] = [];
    const emit = (seq: number) => {
      const eventId = randomUUID();
      ids.push(eventId);
      writer.record({ eventId, action: 'token.issued.client_credentials', clientId: 'svc', details: { seq } });
    };
    for (let i = 0; i < 250; i++) emit(i); // two full batches: the first one's insert is now in flight, and hangs
    for (let i = 250; i < 300; i++) emit(i);
    expect(writer.stats().queued).toBe(300); // in flight counts as not yet written

    const started = Date.now();
    await within(5_000, writer.close(300), 'close(300) on a hanging database');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(writer.stats()).toMatchObject({ queued: 0, written: 0 });
    emit(300); // a request that finished after close: straight to the spool
    const spooled = readFileSync(join(dir, 'audit-spool.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { eventId: string }).eventId);
    expect(new Set(spooled)).toEqual(new Set(ids));

    // the database comes back: the insert that was in flight may land now; the replay must not duplicate it
    release();
    await blocker;
    const next = new AuditWriter(db, { spoolDir: dir });
    await next.close();
    const [counts] = await db.query<{ total: number; distinct_events: number }>(
      `select count(*)::int as total, count(distinct event_id)::int as distinct_events from identity.audit_logs`,
    );
    expect(counts).toEqual({ total: 301, distinct_events: 301 });
    expect(existsSync(join(dir, 'audit-spool.jsonl'))).toBe(false);
  });
});
