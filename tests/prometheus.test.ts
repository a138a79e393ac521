import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, location, signIn, startStack, type Stack } from './support/oidc';
import { freePort, REPO_ROOT } from './support/server';

/**
 * A real Prometheus (Debian's `prometheus` package) scrapes the real provider every second with the
 * bearer token; after real flows, every query of monitoring/grafana-auth-dashboard.json must return data,
 * and every one that real traffic can move must show it.
 */
const PROMETHEUS = '/usr/bin/prometheus';
const DASHBOARD = join(REPO_ROOT, 'monitoring', 'grafana-auth-dashboard.json');

// Grafana variables for a test that lasts about a minute: rate windows of 1m hold ~60 one-second scrapes.
const VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '5s',
  __range: '5m',
  job: 'identity-provider',
  instance: '.*',
  operation: 'login',
};

/**
 * Queries that return data (every series is exported from the start) but cannot be driven above zero by
 * a test of ordinary traffic, and why.
 */
const ZERO_BY_DESIGN: Record<string, string> = {
  'Audit writer queue depth/A': 'events stay queued for at most ~200 ms before a flush; a 1 s scrape rarely sees one',
  'Audit writer spool bytes/A': 'the spool only fills when flushes to the database fail',
  'Audit writer flushes/A': 'flush failures need the database to be unreachable',
  'Database pool and errors/B': 'database_errors_total only moves when a query fails',
};

interface Query {
  key: string;
  title: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  type Panel = { title: string; type: string; panels?: Panel[]; targets?: { refId: string; expr: string }[] };
  const out: Query[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      if (p.type === 'row') continue;
      for (const t of p.targets ?? []) {
        const expr = t.expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
          const name = (a ?? b)!;
          if (!(name in VARIABLES)) throw new Error(`no test value for Grafana variable ${whole}`);
          return VARIABLES[name];
        });
        out.push({ key: `${p.title}/${t.refId}`, title: p.title, expr });
      }
    }
  };
  walk(dash.panels);
  return out;
}

type VectorResult = { metric: Record<string, string>; value: [number, string] }[];

describe('Grafana dashboard queries against a real Prometheus', () => {
  let stack: Stack;
  let prometheus: ChildProcess | undefined;
  let promLog = '';
  let promUrl: string;
  let workDir: string;
  const token = randomBytes(32).toString('base64url');
  const alice = { email: 'alice.prom@example.org', password: 'alice-very-long-password' };
  const bob = { email: 'bob.prom@example.org', password: 'bob-initial-password-1' };
  let web: { clientId: string; secret: string };
  let service: { clientId: string; secret: string };
  const redirect = 'http://127.0.0.1:9/web/callback';

  async function query(expr: string): Promise<VectorResult> {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: VectorResult } };
    if (body.status !== 'success') throw new Error(`query failed: ${body.error}\n  ${expr}`);
    if (body.data.resultType !== 'vector') throw new Error(`expected a vector, got ${body.data.resultType}: ${expr}`);
    return body.data.result;
  }

  /** Waits (by a deadline) until Prometheus has scraped the provider `n` more times: the scrape interval is Prometheus's, not ours. */
  async function moreScrapes(n: number): Promise<void> {
    const scrapes = async () => Number((await query('count_over_time(up{job="identity-provider"}[10m])'))[0]?.value[1] ?? 0);
    const target = (await scrapes()) + n;
    const deadline = Date.now() + 20_000;
    while ((await scrapes()) < target) {
      if (Date.now() > deadline) throw new Error(`prometheus did not scrape ${n} more times:\n${promLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    expect(existsSync(PROMETHEUS), `${PROMETHEUS} missing: apt-get install -y prometheus`).toBe(true);
    stack = await startStack({ METRICS_TOKEN: token, RATE_LIMIT_PASSWORD_CHANGE: '1/900' });
    await stack.store.users.create({ ...alice, emailVerified: true });
    await stack.store.users.create({ ...bob, mustChangePassword: true });
    const created = await stack.store.clients.create({ name: 'Web app', redirectUris: [redirect] });
    web = { clientId: created.client.clientId, secret: created.clientSecret! };
    const svc = await stack.store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read'] });
    service = { clientId: svc.client.clientId, secret: svc.clientSecret! };

    workDir = mkdtempSync(join(tmpdir(), 'idp-prometheus-'));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    for (const rules of ['auth-alerts.yml', 'signing-key-alerts.yml']) copyFileSync(join(REPO_ROOT, 'monitoring', rules), join(workDir, rules));
    writeFileSync(join(workDir, 'token'), token, { mode: 0o600 });
    writeFileSync(
      join(workDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        '  - auth-alerts.yml',
        '  - signing-key-alerts.yml',
        'scrape_configs:',
        '  - job_name: identity-provider',
        '    metrics_path: /metrics',
        '    scrape_interval: 1s',
        '    scrape_timeout: 1s',
        '    authorization:',
        '      type: Bearer',
        `      credentials_file: ${join(workDir, 'token')}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${stack.provider.port}']`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(workDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (c) => (promLog += c));
    prometheus.stderr!.on('data', (c) => (promLog += c));

    // ready, and at least one successful scrape before any traffic (rate() needs a sample before it)
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${promLog}`);
      try {
        const up = await query('up{job="identity-provider"} == 1');
        if (up.length) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus never scraped the provider:\n${promLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await moreScrapes(2);
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((ok) => prometheus!.once('exit', ok));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await stack?.stop();
  });

  const discover = (clientId: string, auth: client.ClientAuth) =>
    client.discovery(new URL(stack.provider.url), clientId, {}, auth, { execute: [client.allowInsecureRequests] });

  /** Every kind of traffic the dashboard shows. Run twice: labelled series appear on first use and only
   * the second round moves them (rate() ignores a series' first sample). */
  async function traffic(round: number) {
    const config = await discover(web.clientId, client.ClientSecretBasic(web.secret));
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'openid email offline_access',
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const agent = new BrowserAgent(stack.provider.url);
    const callback = await signIn(agent, url.toString(), alice);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await client.tokenIntrospection(config, refreshed.access_token);
    await client.tokenRevocation(config, refreshed.access_token);
    // RP-initiated logout with an id_token_hint for this session
    const logout = await agent.get(`/oidc/end-session?${new URLSearchParams({ id_token_hint: refreshed.id_token! })}`);
    expect(logout.status).toBe(303);

    // failed login, and a form post without its CSRF token
    const mallory = new BrowserAgent(stack.provider.url);
    const interaction = new URL(location(await mallory.get(url.toString())), stack.provider.url).searchParams.get('interaction')!;
    await mallory.postForm('/interaction/login', { interaction, csrf: await mallory.csrf(), email: alice.email, password: 'wrong-password-123' });
    expect((await mallory.postForm('/interaction/login', { interaction, email: alice.email, password: alice.password })).status).toBe(403);

    const svc = await discover(service.clientId, client.ClientSecretBasic(service.secret));
    await client.clientCredentialsGrant(svc, { scope: 'api.read' });

    if (round === 1) {
      // bob must change his password at first login; a second change within the window is rate limited
      const b = new BrowserAgent(stack.provider.url);
      const bi = new URL(location(await b.get(url.toString())), stack.provider.url).searchParams.get('interaction')!;
      const toPassword = await b.postForm('/interaction/login', { interaction: bi, csrf: await b.csrf(), ...bob });
      expect(location(toPassword)).toMatch(/^\/password\?/);
      const form = { interaction: bi, new_password: 'bob-brand-new-password', confirm_password: 'bob-brand-new-password' };
      expect((await b.postForm('/interaction/password', { ...form, csrf: await b.csrf() })).status).toBe(303);
      expect((await b.postForm('/interaction/password', { ...form, csrf: await b.csrf() })).status).toBe(429);
    }
  }

  it('every panel query returns data; every query real traffic can move shows it', async () => {
    await traffic(1);
    await moreScrapes(2); // the new labelled series now exist
    await traffic(2);

    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(30);
    for (const key of Object.keys(ZERO_BY_DESIGN))
      expect(
        queries.map((q) => q.key),
        `stale ZERO_BY_DESIGN entry ${key}`,
      ).toContain(key);

    // poll: the active-session gauge is cached for 10 s and every rate needs a scrape after the traffic
    const last = new Map<string, VectorResult>();
    const open = new Set(queries.map((q) => q.key));
    const deadline = Date.now() + 40_000;
    while (open.size && Date.now() < deadline) {
      for (const q of queries) {
        if (!open.has(q.key)) continue;
        const result = await query(q.expr);
        last.set(q.key, result);
        const positive = result.some((r) => Number.isFinite(Number(r.value[1])) && Number(r.value[1]) > 0);
        if (result.length && (positive || q.key in ZERO_BY_DESIGN)) open.delete(q.key);
      }
      if (open.size) await new Promise((r) => setTimeout(r, 1000));
    }

    const problems = queries
      .filter((q) => open.has(q.key))
      .map((q) => {
        const result = last.get(q.key) ?? [];
        return `${q.key}: ${result.length ? `no positive value (${JSON.stringify(result.map((r) => r.value[1]))})` : 'EMPTY'}\n    ${q.expr}`;
      });
    expect(problems, problems.join('\n')).toEqual([]);
    for (const q of queries) expect(last.get(q.key)?.length, `${q.key} returned no data`).toBeGreaterThan(0);
  });

  it('the alert rules loaded and evaluate without errors on the live data', async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name)).toEqual(
      expect.arrayContaining(['TokenReuseDetected', 'HighLoginFailureRate', 'CSRFAttackAttempts', 'SigningKeyMissing', 'SigningKeySuccessorMissing']),
    );
    for (const rule of rules) expect(rule.health, `${rule.name}: ${rule.lastError}`).not.toBe('err');
    // the traffic above reused a refresh token and replayed a code
    const firing = await query('ALERTS{alertname="TokenReuseDetected"}');
    expect(new Set(firing.map((a) => a.metric.kind))).toEqual(new Set(['refresh_token', 'authorization_code']));
  });
});
