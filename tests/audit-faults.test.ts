import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityStore } from '../packages/database-identity/src';
import {
  faultClusterUnavailable,
  faultClusterUrl,
  freezeFaultCluster,
  killFaultCluster,
  resumeFaultCluster,
  startFaultCluster,
  stopFaultCluster,
  thawFaultCluster,
} from './support/fault-cluster';
import { KEY_ENCRYPTION_SECRET, SESSION_SECRET, startStack, type Stack } from './support/oidc';
import { startProvider, type RunningProvider } from './support/server';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Issue #12, item 1: one anonymous token request with a 2,800-character client_id stopped the audit trail for
 * good (the row overflowed audit_logs_client_id_idx and was replayed first forever) and turned readiness 503.
 */
describe('a hostile client_id does not blind the audit trail', () => {
  let stack: Stack;
  let basic: string;
  beforeAll(async () => {
    stack = await startStack();
    const svc = await stack.store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read'] });
    basic = `Basic ${Buffer.from(`${svc.client.clientId}:${svc.clientSecret}`).toString('base64')}`;
  });
  afterAll(() => stack?.stop());

  it('the exact hostile request, then a valid one: the valid one is audited and readiness stays 200', async () => {
    const hostile = randomBytes(1400).toString('hex');
    const bad = await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: FORM,
      body: `grant_type=client_credentials&client_secret=x&client_id=${hostile}`,
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);

    const requestId = randomUUID();
    const good = await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { ...FORM, authorization: basic, 'x-request-id': requestId },
      body: 'grant_type=client_credentials&scope=api.read',
    });
    expect(good.status).toBe(200);

    await until("the valid request's audit row", 20_000, async () => {
      const rows = await stack.store.db.query(`select 1 from identity.audit_logs where request_id = $1 and action = 'token.issued.client_credentials'`, [
        requestId,
      ]);
      return rows.length > 0;
    });
    // the hostile attempt is in the trail too, bounded, and says so
    const [attempt] = await stack.store.db.query<{ client_id: string; details: { truncated?: string[] } }>(
      `select client_id, details from identity.audit_logs where client_id like $1`,
      [`${hostile.slice(0, 64)}%`],
    );
    expect(hostile.startsWith(attempt.client_id)).toBe(true);
    expect(Buffer.byteLength(attempt.client_id)).toBeLessThanOrEqual(256);
    expect(attempt.details.truncated).toContain('client_id');

    const ready = await fetch(`${stack.provider.url}/api/health/ready`);
    const report = (await ready.json()) as { checks: { audit_writer: { status: string; database_available: boolean } } };
    expect(ready.status, JSON.stringify(report)).toBe(200);
    expect(report.checks.audit_writer).toMatchObject({ status: 'ok', database_available: true });
  });
});

/**
 * Issue #12, item 2 and "done when": SIGTERM while the database hangs lost audit events (close() waited on the
 * insert in flight, the hard exit came first). On a Postgres cluster of the test's own (port 5433): token load,
 * the database frozen (SIGSTOP) or stopped hard, SIGTERM under load, exit, database back, restart on the same
 * data directory (spool replay): exactly one token.issued.client_credentials row per 200 response.
 */
const unavailable = faultClusterUnavailable();
const mustRun = process.env.CI === 'true';
if (unavailable && !mustRun) console.log(`audit fault tests skipped: ${unavailable} (they need root and pg_createcluster; under CI=true they fail instead)`);

describe.skipIf(unavailable !== null && !mustRun)('audit events survive SIGTERM while the database hangs (own cluster on 5433)', () => {
  const admin = () => postgres(faultClusterUrl(), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  const created: string[] = [];

  beforeAll(() => {
    if (unavailable) throw new Error(`the audit fault tests need their own Postgres cluster: ${unavailable}`);
    startFaultCluster();
  });
  afterAll(async () => {
    thawFaultCluster();
    try {
      resumeFaultCluster();
      const sql = admin();
      for (const name of created) await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    } finally {
      stopFaultCluster(); // left stopped, whatever happened
    }
  });

  it.each([
    { fault: 'frozen (SIGSTOP)', start: freezeFaultCluster, end: thawFaultCluster },
    { fault: 'stopped (immediate)', start: killFaultCluster, end: resumeFaultCluster },
  ])(
    'database $fault: as many token.issued rows as 200 responses, no duplicates',
    async ({ start, end }) => {
      const name = `idp_fault_${randomBytes(5).toString('hex')}`;
      const sql = admin();
      await sql.unsafe(`create database ${name}`);
      await sql.end();
      created.push(name);
      const databaseUrl = faultClusterUrl(name);
      // the statement timeout is not what saves the events here: the default, as in production
      const env = { DATABASE_URL: databaseUrl, SESSION_SECRET, KEY_ENCRYPTION_SECRET, DATABASE_STATEMENT_TIMEOUT_MS: '30000' };
      let provider: RunningProvider | null = await startProvider(env);
      const dataDir = provider.dataDir;

      const store = await openIdentityStore({ databaseUrl, keyEncryptionSecret: KEY_ENCRYPTION_SECRET, maxConnections: 1 });
      const svc = await store.clients.create({ name: 'Load', grantTypes: ['client_credentials'], scopes: ['api.read'] });
      await store.close();
      const basic = `Basic ${Buffer.from(`${svc.client.clientId}:${svc.clientSecret}`).toString('base64')}`;

      // token load: a few clients in a loop, each 200 noted with its token's jti
      const issued: string[] = [];
      let loading = true;
      const url = provider.url;
      const worker = async () => {
        while (loading) {
          try {
            const res = await fetch(`${url}/oidc/token`, {
              method: 'POST',
              headers: { ...FORM, authorization: basic },
              body: 'grant_type=client_credentials&scope=api.read',
            });
            const body = await res.text();
            if (res.status === 200) {
              const token = (JSON.parse(body) as { access_token: string }).access_token;
              issued.push((JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string }).jti);
            }
          } catch {
            // refused or cut while the provider shuts down: no 200, nothing to count
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const workers = Array.from({ length: 4 }, worker);

      let atFault = 0;
      try {
        await until('load under way', 30_000, async () => issued.length >= 200);
        start();
        atFault = issued.length;
        const faultAt = Date.now();
        // requests keep being answered (the token path needs no database), so events queue behind the fault
        await until('load during the fault', 10_000, async () => issued.length >= atFault + 200 || Date.now() - faultAt > 2_000);
        const signalledAt = Date.now();
        const exited = provider.stop(); // SIGTERM, load continuing
        const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 40_000))]);
        expect(code, provider.output()).not.toBe('hung');
        console.log(`fault: ${issued.length - atFault} tokens issued during the fault, exit ${code} ${Date.now() - signalledAt} ms after SIGTERM`);
        // what the database did not take is on disk before the process ended
        const spool = join(dataDir, 'audit-spool');
        expect(existsSync(join(spool, 'audit-spool.jsonl')) || existsSync(join(spool, 'audit-spool.replaying.jsonl'))).toBe(true);
        loading = false;
        await Promise.all(workers);
        provider = null;
      } finally {
        loading = false;
        end();
      }
      // the load before the fault, and tokens answered while it lasted (how many depends on the machine's speed)
      expect(atFault).toBeGreaterThanOrEqual(200);
      expect(issued.length).toBeGreaterThan(atFault);

      // the same data directory: the spool is replayed at start
      provider = await startProvider({ ...env, DATA_DIR: dataDir });
      try {
        const count = postgres(databaseUrl, { max: 1, onnotice: () => {} });
        const spool = join(dataDir, 'audit-spool');
        const query = async () => {
          const [row] = await count<{ total: number; events: number; jtis: number }[]>`
          select count(*)::int as total, count(distinct event_id)::int as events, count(distinct details->>'jti')::int as jtis
            from identity.audit_logs where action = 'token.issued.client_credentials'`;
          return row;
        };
        await until(
          'the spool replayed',
          60_000,
          async () =>
            !existsSync(join(spool, 'audit-spool.jsonl')) && !existsSync(join(spool, 'audit-spool.replaying.jsonl')) && (await query()).total >= issued.length,
        );
        const row = await query();
        expect(row).toEqual({ total: issued.length, events: issued.length, jtis: issued.length });
        const jtis = await count<{ jti: string }[]>`select details->>'jti' as jti from identity.audit_logs where action = 'token.issued.client_credentials'`;
        expect(new Set(jtis.map((r) => r.jti))).toEqual(new Set(issued));
        await count.end();
      } finally {
        await provider.stop();
      }
    },
    240_000,
  );
});
