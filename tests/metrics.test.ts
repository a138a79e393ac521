import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, location, signIn, startStack, type Stack } from './support/oidc';
import { auditWritten } from './support/server';

/**
 * /metrics on the real server: protected by METRICS_TOKEN, fed by the request outcomes of real flows, and
 * never carrying personal data in a label. Also the readiness probe and the per-request log line.
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const value = (all: Sample[], name: string, labels: Record<string, string> = {}) =>
  all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

const EMAIL = /[^\s@]+@[^\s@]+/;
const IPV4 = /\b\d{1,3}(\.\d{1,3}){3}\b/;
const IPV6 = /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('Prometheus metrics endpoint', () => {
  let stack: Stack;
  const token = randomBytes(32).toString('base64url');
  const alice = { email: 'alice.metrics@example.org', password: 'alice-very-long-password' };
  let aliceId: string;
  let spa: { clientId: string };
  let service: { clientId: string; secret: string };
  const redirect = 'http://127.0.0.1:9/spa/callback';
  const secrets: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ METRICS_TOKEN: token, LOG_LEVEL: 'info' });
    aliceId = (await stack.store.users.create({ ...alice, name: 'Alice', emailVerified: true })).id;
    spa = (await stack.store.clients.create({ name: 'SPA', tokenEndpointAuthMethod: 'none', redirectUris: [redirect] })).client;
    const svc = await stack.store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read'] });
    service = { clientId: svc.client.clientId, secret: svc.clientSecret! };
    secrets.push(service.secret);
  });
  afterAll(() => stack?.stop());

  const scrape = (auth?: string) => fetch(`${stack.provider.url}/metrics`, auth ? { headers: { authorization: auth } } : {});
  const discover = (clientId: string, auth: client.ClientAuth) =>
    client.discovery(new URL(stack.provider.url), clientId, {}, auth, { execute: [client.allowInsecureRequests] });

  it('refuses scrapes without or with wrong credentials (401 + WWW-Authenticate)', async () => {
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await none.text()).not.toContain('auth_');
    for (const wrong of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, 'Bearer ', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, token]) {
      expect((await scrape(wrong)).status, wrong).toBe(401);
    }
  });

  it('counts real flows, and no label value is an e-mail, IP address or user id', async () => {
    // code + PKCE with login and consent, userinfo, refresh, refresh reuse, code replay
    const config = await discover(spa.clientId, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'openid profile email offline_access',
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new BrowserAgent(stack.provider.url), url.toString(), alice);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!, callback.searchParams.get('code')!);
    await client.fetchUserInfo(config, tokens.access_token, aliceId);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    secrets.push(refreshed.access_token, refreshed.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    // a failed login and a form post without its CSRF token
    const mallory = new BrowserAgent(stack.provider.url);
    const toLogin = new URL(location(await mallory.get(url.toString())), stack.provider.url);
    const interaction = toLogin.searchParams.get('interaction')!;
    const failed = await mallory.postForm('/interaction/login', {
      interaction,
      csrf: await mallory.csrf(),
      email: alice.email,
      password: 'wrong-password-123',
    });
    expect(location(failed)).toContain('error=invalid_credentials');
    expect((await mallory.postForm('/interaction/login', { interaction, email: alice.email, password: alice.password })).status).toBe(403);

    // client credentials
    const svc = await discover(service.clientId, client.ClientSecretBasic(service.secret));
    secrets.push((await client.clientCredentialsGrant(svc, { scope: 'api.read' })).access_token);

    await auditWritten(stack.provider);
    const response = await scrape(`Bearer ${token}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const all = parseExposition(text);

    expect(value(all, 'auth_logins_total', { result: 'success', method: 'password' })).toBe(1);
    expect(value(all, 'auth_logins_total', { result: 'failure' })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'authorization_code', client_id: spa.clientId })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'refresh_token', client_id: spa.clientId })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: service.clientId })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'success' })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'reuse_detected' })).toBe(1);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'refresh_token' })).toBe(1);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'authorization_code' })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_grant' })).toBe(2);
    expect(value(all, 'auth_oauth_total', { step: 'authorize', result: 'success' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'userinfo', result: 'success' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'success' })).toBe(3);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(2);
    expect(value(all, 'auth_csrf_failures_total')).toBe(1);
    // alice's login, mallory's failed one and the CSRF-rejected post
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'login' })).toBe(3);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'token' })).toBe(5);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'userinfo' })).toBe(1);
    expect(value(all, 'auth_refresh_latency_seconds_count')).toBe(2);
    expect(value(all, 'auth_active_sessions')).toBeGreaterThanOrEqual(1);
    expect(value(all, 'audit_writer_events_written_total')).toBeGreaterThan(0);
    expect(value(all, 'database_pool_connections', { state: 'max' })).toBe(10);
    expect(value(all, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    const labelValues = [...new Set(all.flatMap((s) => Object.values(s.labels)))];
    expect(labelValues).toEqual(expect.arrayContaining(['success', spa.clientId, service.clientId]));
    for (const v of labelValues) {
      expect(v, v).not.toMatch(EMAIL);
      expect(v, v).not.toMatch(IPV4);
      expect(v, v).not.toMatch(IPV6);
      expect(v, v).not.toMatch(UUID);
      expect(v).not.toBe(aliceId);
    }
    for (const secret of [aliceId, alice.email, alice.password, ...secrets]) expect(text).not.toContain(secret);
  });

  it('logs one JSON line per protocol request, without query strings, tokens or e-mail addresses', async () => {
    const lines = stack.provider
      .output()
      .split('\n')
      .flatMap((l) => {
        try {
          const parsed: unknown = JSON.parse(l);
          return parsed && typeof parsed === 'object' ? [parsed as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      });
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(10);
    for (const line of requests) {
      expect(line).toMatchObject({
        level: 'info',
        method: expect.any(String),
        path: expect.stringMatching(/^\/[^?]*$/),
        status: expect.any(Number),
        duration_ms: expect.any(Number),
        request_id: expect.any(String),
      });
      expect(line).toHaveProperty('client_ip');
    }
    expect(requests.map((l) => l.path)).toEqual(expect.arrayContaining(['/oidc/authorize', '/interaction/login', '/oidc/token', '/oidc/userinfo']));
    const output = stack.provider.output();
    expect(output).not.toMatch(/[?&](code|state|code_challenge)=/);
    for (const secret of [alice.email, alice.password, ...secrets]) expect(output).not.toContain(secret);
  });

  it('readiness: database, audit writer, disk and token issuance, 200 with JSON and no secrets; details only with the metrics credentials', async () => {
    const anonymous = await fetch(`${stack.provider.url}/api/health/ready`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
    const redacted = await anonymous.json();
    expect(redacted).toMatchObject({
      status: 'ready',
      checks: { database: { status: 'ok' }, disk: { status: 'ok' }, token_issuance: { status: 'ok', active_signing_key: true } },
    });
    // an outsider learns states, not the pool size, the disk's bytes or the database kind
    expect(redacted.checks.database).not.toHaveProperty('kind');
    expect(redacted.checks.database).not.toHaveProperty('pool');
    expect(redacted.checks.disk).not.toHaveProperty('free_bytes');

    const response = await fetch(`${stack.provider.url}/api/health/ready`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      status: 'ready',
      checks: {
        database: { status: 'ok', kind: 'postgres', latency_ms: expect.any(Number), pool: { max: 10 } },
        audit_writer: { status: 'ok', queue_depth: expect.any(Number), flush_failures: 0 },
        disk: { status: 'ok', free_bytes: expect.any(Number) },
        token_issuance: { status: 'ok', client_registry_age_ms: expect.any(Number), active_signing_key: true },
      },
    });
    const text = JSON.stringify(body);
    expect(text).not.toContain(stack.databaseUrl);
    expect(text).not.toContain(stack.provider.dataDir);
    expect(text).not.toMatch(/postgres:\/\//);
  });
});
