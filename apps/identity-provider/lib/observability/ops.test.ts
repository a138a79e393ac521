import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../env';
import { createLogger } from '../log';
import { createMetrics } from './metrics';
import { createMetricsHandler, createScrapeSampler, metricsAuthorized, safeEqual } from './metrics-endpoint';
import { checkReadiness, redactReadiness } from './readiness';

const silent = createLogger('silent');
const root = mkdtempSync(join(tmpdir(), 'idp-ops-'));
const strong = 'k'.repeat(20) + 'Zq9-Xw3_Yv7.Ur1~Ts5Rp8Qn2Mm';
const prodBase = { NODE_ENV: 'production', SESSION_SECRET: strong + 'a', KEY_ENCRYPTION_SECRET: strong + 'b', ISSUER_URL: 'https://id.example.org' };

describe('METRICS_* configuration', () => {
  it('development: enabled by default at /metrics, unprotected unless configured', () => {
    const config = loadConfig({ DATA_DIR: root }, root);
    expect(config.metrics).toEqual({ enabled: true, path: '/metrics' });
    expect(loadConfig({ DATA_DIR: root, METRICS_ENABLED: 'false', METRICS_PATH: '/internal/metrics/' }, root).metrics).toEqual({
      enabled: false,
      path: '/internal/metrics',
    });
  });

  it('production: disabled by default; enabling it without a token or basic auth refuses to start', () => {
    expect(loadConfig(prodBase, root).metrics.enabled).toBe(false);
    expect(() => loadConfig({ ...prodBase, METRICS_ENABLED: 'true' }, root)).toThrow(/requires METRICS_TOKEN or METRICS_BASIC_AUTH/);
    expect(loadConfig({ ...prodBase, METRICS_ENABLED: 'true', METRICS_TOKEN: strong }, root).metrics).toEqual({
      enabled: true,
      path: '/metrics',
      token: strong,
    });
    expect(loadConfig({ ...prodBase, METRICS_ENABLED: 'true', METRICS_BASIC_AUTH: 'prom:long-enough-pass-phrase' }, root).metrics.basicAuth).toEqual({
      user: 'prom',
      password: 'long-enough-pass-phrase',
    });
  });

  it('rejects weak or malformed credentials and unsafe paths', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env, root);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ ...prodBase, METRICS_ENABLED: 'true', METRICS_TOKEN: 'short' }).join()).toMatch(/METRICS_TOKEN is shorter/);
    expect(problems({ ...prodBase, METRICS_ENABLED: 'true', METRICS_BASIC_AUTH: 'prom:short' }).join()).toMatch(/password is shorter/);
    expect(problems({ DATA_DIR: root, METRICS_BASIC_AUTH: 'no-colon' }).join()).toMatch(/user:password/);
    expect(problems({ DATA_DIR: root, METRICS_PATH: '/oidc/metrics' }).join()).toMatch(/METRICS_PATH/);
    expect(problems({ DATA_DIR: root, METRICS_PATH: 'metrics' }).join()).toMatch(/METRICS_PATH/);
  });
});

describe('metrics endpoint', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok())));

  it('compares credentials in constant time (hash first, any length)', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    const auth = { token: 't0ken', basicAuth: { user: 'prom', password: 'pw:with:colons' } };
    expect(metricsAuthorized('Bearer t0ken', auth)).toBe(true);
    expect(metricsAuthorized('bearer t0ken', auth)).toBe(true);
    expect(metricsAuthorized('Bearer t0ken2', auth)).toBe(false);
    expect(metricsAuthorized(`Basic ${Buffer.from('prom:pw:with:colons').toString('base64')}`, auth)).toBe(true);
    expect(metricsAuthorized(`Basic ${Buffer.from('prom:wrong').toString('base64')}`, auth)).toBe(false);
    expect(metricsAuthorized(undefined, auth)).toBe(false);
    expect(metricsAuthorized('t0ken', auth)).toBe(false);
    expect(metricsAuthorized('Bearer t0ken', { basicAuth: auth.basicAuth })).toBe(false);
    expect(metricsAuthorized(undefined, {})).toBe(true);
  });

  it('401 with challenges, 200 with the exposition and sampled gauges', async () => {
    const metrics = createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
    let counted = 0;
    const sample = createScrapeSampler(
      metrics,
      {
        auditStats: () => ({ queued: 3, written: 7, flushFailures: 2, spoolBytes: 11 }),
        poolStats: () => ({ active: 1, idle: 4, max: 5 }),
        countActiveSessions: async () => ++counted,
      },
      silent,
    );
    const handler = createMetricsHandler({ metrics, auth: { token: 'secret-token', basicAuth: { user: 'u', password: 'p' } }, sample, log: silent });
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;

    const denied = await fetch(url);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/Bearer realm="metrics".*Basic realm="metrics"/);
    expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer secret-token' } })).status).toBe(405);

    const ok = await fetch(url, { headers: { authorization: 'Bearer secret-token' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await ok.text();
    expect(body).toMatch(/^audit_writer_queue_depth 3$/m);
    expect(body).toMatch(/^audit_writer_spool_bytes 11$/m);
    expect(body).toMatch(/^audit_writer_events_written_total 7$/m);
    expect(body).toMatch(/^audit_writer_flush_failures_total 2$/m);
    expect(body).toMatch(/^database_pool_connections\{state="max"\} 5$/m);
    expect(body).toMatch(/^auth_active_sessions 1$/m);

    // a second scrape: counters are not double counted, the session count is cached (>= 10 s)
    const again = await (await fetch(url, { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } })).text();
    expect(again).toMatch(/^audit_writer_events_written_total 7$/m);
    expect(again).toMatch(/^audit_writer_flush_failures_total 2$/m);
    expect(again).toMatch(/^auth_active_sessions 1$/m);
    expect(counted).toBe(1);
  });

  it("exports the writer's dead letters as audit_dead_letter_events_total, counted once", async () => {
    const metrics = createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
    let deadLettered = 0;
    const sample = createScrapeSampler(
      metrics,
      {
        auditStats: () => ({ queued: 0, written: 0, flushFailures: 0, deadLettered }),
        poolStats: () => ({ active: 0, idle: 1, max: 1 }),
        countActiveSessions: async () => 0,
      },
      silent,
    );
    await sample();
    expect((await metrics.render()).body).toMatch(/^audit_dead_letter_events_total 0$/m);
    deadLettered = 3;
    await sample();
    await sample();
    expect((await metrics.render()).body).toMatch(/^audit_dead_letter_events_total 3$/m);
  });

  it('refreshes the active session count after 10 s and counts a failed count as a database error', async () => {
    const metrics = createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
    let t = 0;
    let fail = false;
    const sample = createScrapeSampler(
      metrics,
      {
        auditStats: () => ({ queued: 0, written: 0, flushFailures: 0 }),
        poolStats: () => ({ active: 0, idle: 1, max: 1 }),
        countActiveSessions: async () => {
          if (fail) throw new Error('db down');
          return 42;
        },
      },
      silent,
      () => t,
    );
    await sample();
    fail = true;
    t = 9_999;
    await sample();
    expect((await metrics.render()).body).toMatch(/^database_errors_total 0$/m);
    t = 10_000;
    await sample();
    const body = (await metrics.render()).body;
    expect(body).toMatch(/^auth_active_sessions 42$/m);
    expect(body).toMatch(/^database_errors_total 1$/m);
  });
});

describe('readiness', () => {
  const db = (query: () => Promise<unknown>) => ({ kind: 'postgres', query, poolStats: () => ({ active: 0, idle: 2, max: 2 }) });
  const audit = { queued: 0, flushFailures: 0, spoolBytes: 0, dropped: 0, databaseAvailable: true };
  const issuance = async () => ({ registry: { usable: true, ageMs: 10 }, keys: { usable: true, ageMs: 10, signing: true } });

  it('ready: database latency, audit writer state and disk space, nothing secret', async () => {
    const report = await checkReadiness({
      db: db(async () => [{ '?column?': 1 }]),
      auditStats: () => audit,
      dataDir: join(root, 'not', 'created', 'yet'),
      issuance,
    });
    expect(report.status).toBe('ready');
    expect(report.checks.database).toMatchObject({ status: 'ok', kind: 'postgres', latency_ms: expect.any(Number) });
    expect(report.checks.audit_writer).toMatchObject({ status: 'ok', queue_depth: 0, flush_failures: 0 });
    expect(report.checks.disk).toMatchObject({ status: 'ok', free_bytes: expect.any(Number), total_bytes: expect.any(Number) });
    expect(JSON.stringify(report)).not.toContain(root);
  });

  it('unavailable when the database fails or hangs, or the audit writer cannot reach it', async () => {
    const errors: string[] = [];
    const down = await checkReadiness({
      db: db(async () => {
        throw new Error('connect ECONNREFUSED 10.1.2.3:5432 password=hunter2');
      }),
      auditStats: () => audit,
      dataDir: root,
      issuance,
      onError: (check) => errors.push(check),
    });
    expect(down.status).toBe('unavailable');
    expect(down.checks.database).toMatchObject({ status: 'fail', latency_ms: null });
    expect(JSON.stringify(down)).not.toMatch(/hunter2|10\.1\.2\.3/);
    expect(errors).toEqual(['database']);

    const hung = await checkReadiness({ db: db(() => new Promise(() => {})), auditStats: () => audit, dataDir: root, issuance }, 50);
    expect(hung.checks.database.status).toBe('fail');

    const stuck = await checkReadiness({
      db: db(async () => []),
      auditStats: () => ({ ...audit, databaseAvailable: false, flushFailures: 3 }),
      dataDir: root,
      issuance,
    });
    expect(stuck.status).toBe('unavailable');
    expect(stuck.checks.audit_writer).toMatchObject({ status: 'fail', flush_failures: 3, database_available: false });
  });

  it('unavailable when tokens cannot be issued although select 1 answers: no active signing key, or a registry past its staleness bound', async () => {
    const healthy = await issuance();
    const noKey = await checkReadiness({
      db: db(async () => []),
      auditStats: () => audit,
      dataDir: root,
      issuance: async () => ({ ...healthy, keys: { ...healthy.keys, signing: false } }),
    });
    expect(noKey.status).toBe('unavailable');
    expect(noKey.checks.token_issuance).toMatchObject({ status: 'fail', active_signing_key: false });
    const stale = await checkReadiness({
      db: db(async () => []),
      auditStats: () => audit,
      dataDir: root,
      issuance: async () => ({ ...healthy, registry: { usable: false, ageMs: 400_000 } }),
    });
    expect(stale.status).toBe('unavailable');
    expect(stale.checks.token_issuance).toMatchObject({ status: 'fail', client_registry_age_ms: 400_000 });
  });

  it('redacted for anonymous callers: states without pool sizes, disk bytes or the database kind', async () => {
    const report = await checkReadiness({ db: db(async () => []), auditStats: () => audit, dataDir: root, issuance });
    const redacted = JSON.stringify(redactReadiness(report));
    expect(redacted).not.toMatch(/"kind"|"pool"|free_bytes|total_bytes/);
    expect(redactReadiness(report)).toMatchObject({
      status: 'ready',
      checks: { database: { status: 'ok' }, disk: { status: 'ok' }, token_issuance: { status: 'ok' } },
    });
  });

  it('maintenance is informational: not started, or a failing job, never makes the instance unready', async () => {
    const job = (runs: number, lastError: string | null) => ({
      runs,
      failures: lastError ? 1 : 0,
      lastRunAt: null,
      lastSuccessAt: null,
      lastDurationMs: null,
      lastError,
    });
    const none = await checkReadiness({ db: db(async () => []), auditStats: () => audit, dataDir: root, issuance });
    expect(none.checks.maintenance).toEqual({ status: 'not_started', rounds: 0, jobs: {} });
    const failing = await checkReadiness({
      db: db(async () => []),
      auditStats: () => audit,
      dataDir: root,
      issuance,
      maintenance: () => ({
        started: true,
        everyMs: 60_000,
        rounds: 3,
        jobs: { sealRollups: job(3, null), applyRetention: job(3, 'PostgresError'), later: job(0, null) },
      }),
    });
    expect(failing.status).toBe('ready');
    expect(failing.checks.maintenance).toEqual({ status: 'warn', rounds: 3, jobs: { sealRollups: 'ok', applyRetention: 'fail', later: 'pending' } });
    expect(redactReadiness(failing)).toMatchObject({ checks: { maintenance: { status: 'warn', rounds: 3 } } });
  });

  it('dead-lettered audit events are a warning: the instance stays ready', async () => {
    const report = await checkReadiness({ db: db(async () => []), auditStats: () => ({ ...audit, deadLettered: 2 }), dataDir: root, issuance });
    expect(report.status).toBe('ready');
    expect(report.checks.audit_writer).toMatchObject({ status: 'warn', dead_letters: 2, database_available: true });
  });
});
