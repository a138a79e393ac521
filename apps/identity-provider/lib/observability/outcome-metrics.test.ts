import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log';
import { handleProviderRequest } from '../http/edge';
import type { Operation, RequestOutcome } from '../oidc/outcome';
import type { RequestContext } from '../oidc/ports';
import { TEST_ISSUER, testProvider } from '../oidc/test-provider';
import { createMetrics, type IdpMetrics } from './metrics';
import { recordOutcome } from './outcome-metrics';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format into samples. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const EMAIL = /@/;
const IPV4 = /\b\d{1,3}(\.\d{1,3}){3}\b/;
const IPV6 = /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const REGISTERED = 'registered-client';
const USER = '3f2b8c1e-7a4d-4e0f-9b6a-1c2d3e4f5a6b';

function setup() {
  const metrics = createMetrics({ registeredClientIds: () => new Set([REGISTERED]), defaultMetrics: false });
  /** One request of a route: its outcome as the endpoint reported it, timed like a handled request. */
  const request = (operation: Operation | undefined, outcome: RequestOutcome | undefined, seconds: number | null = 0.01) =>
    recordOutcome(metrics, operation, outcome, seconds);
  return { metrics, request };
}

async function samples(metrics: IdpMetrics): Promise<Sample[]> {
  return parseExposition((await metrics.render()).body);
}

function value(all: Sample[], name: string, labels: Record<string, string> = {}): number {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('recordOutcome: request outcomes become metrics', () => {
  it('counts logins once per attempt: success, failure, locked', async () => {
    const { request, metrics } = setup();
    request('login', { login: 'success' });
    request('login', { login: 'failure' });
    request('login', { login: 'failure' });
    request('login', { login: 'failure' });
    request('login', { login: 'locked' });
    // a throttled attempt is refused before any password is checked: a rate limit, not an attempt
    request('login', { rateLimited: 'login' });
    const all = await samples(metrics);
    expect(value(all, 'auth_logins_total', { result: 'success', method: 'password' })).toBe(1);
    expect(value(all, 'auth_logins_total', { result: 'failure' })).toBe(3);
    expect(value(all, 'auth_logins_total', { result: 'locked' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'login' })).toBe(1);
    // login is an operation, not an OAuth step, and login failures carry no OAuth error code
    expect(value(all, 'auth_errors_total')).toBe(0);
    expect(value(all, 'auth_oauth_total', { step: 'other' })).toBe(0);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'login' })).toBe(6);
  });

  it('counts issued tokens by grant type and registered client; anything else is "other"', async () => {
    const { request, metrics } = setup();
    request('token', { result: 'success', grantType: 'authorization_code', clientId: REGISTERED });
    request('token', { result: 'success', grantType: 'client_credentials', clientId: REGISTERED });
    request('token', { result: 'success', grantType: 'client_credentials', clientId: 'alice@example.org' });
    request('token', { result: 'success', grantType: 'client_credentials', clientId: USER });
    request('token', { result: 'success', grantType: 'client_credentials', clientId: null });
    const all = await samples(metrics);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'authorization_code', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'other' })).toBe(3);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'success' })).toBe(5);
    const clientIds = new Set(all.filter((s) => s.name === 'auth_tokens_issued_total').map((s) => s.labels.client_id));
    expect(clientIds).toEqual(new Set([REGISTERED, 'other']));
  });

  it('refresh: success, failure, reuse (also a token reuse), one issued token per grant; timed into the refresh histogram', async () => {
    const { request, metrics } = setup();
    const refresh = { grantType: 'refresh_token', clientId: REGISTERED } as const;
    request('token', { ...refresh, result: 'success' });
    request('token', { ...refresh, result: 'failure', error: 'invalid_grant', reusedToken: 'refresh_token' });
    request('token', { ...refresh, result: 'failure', error: 'invalid_grant' });
    request('token', { ...refresh, result: 'failure', error: 'invalid_client' });
    // refused by a rate limit before the grant counts: no refresh outcome, no refresh timing
    request('token', { result: 'failure', error: 'temporarily_unavailable', rateLimited: 'token' });
    request('token', { result: 'success', grantType: 'client_credentials', clientId: REGISTERED });
    const all = await samples(metrics);
    expect(value(all, 'auth_refresh_total', { result: 'success' })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'reuse_detected' })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'failure' })).toBe(2);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'refresh_token' })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'refresh_token', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_grant' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_client' })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'temporarily_unavailable' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(4);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'token' })).toBe(1);
    expect(value(all, 'auth_refresh_latency_seconds_count')).toBe(4);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'token' })).toBe(6);
  });

  it('code replay is an authorization_code reuse; other failures count their OAuth error and step', async () => {
    const { request, metrics } = setup();
    request('token', { result: 'failure', error: 'invalid_grant', grantType: 'authorization_code', reusedToken: 'authorization_code' });
    request('token', { result: 'failure', error: 'invalid_grant', grantType: 'authorization_code' });
    request('userinfo', { result: 'failure', error: 'invalid_token' });
    request('userinfo', { result: 'failure', error: 'invalid_token' });
    request('introspect', { result: 'failure', error: 'invalid_client' });
    request('revoke', { result: 'failure', error: 'unsupported_token_type' });
    request('token', { result: 'failure', error: '<script>alert(1)</script>' as RequestOutcome['error'] });
    const all = await samples(metrics);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'authorization_code' })).toBe(1);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'refresh_token' })).toBe(0);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_grant' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_token' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_client' })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'other' })).toBe(2);
    expect(value(all, 'auth_oauth_total', { step: 'userinfo', result: 'failure' })).toBe(2);
    expect(value(all, 'auth_oauth_total', { step: 'introspect', result: 'failure' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'revoke', result: 'failure' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(3);
    expect(value(all, 'auth_refresh_total')).toBe(0);
  });

  it('endpoint successes, logout, password change, rate limiting, CSRF', async () => {
    const { request, metrics } = setup();
    for (const operation of ['userinfo', 'introspect', 'revoke', 'logout'] as const) request(operation, { result: 'success' });
    // the interaction form and the account API (no operation) report a password change alike
    request(undefined, { password: 'password_changed' }, null);
    request(undefined, { rateLimited: 'password_change' }, null);
    request(undefined, { csrfRejected: true });
    request('logout', { csrfRejected: true });
    const all = await samples(metrics);
    for (const step of ['userinfo', 'introspect', 'revoke', 'logout']) {
      expect(value(all, 'auth_oauth_total', { step, result: 'success' }), step).toBe(1);
    }
    expect(value(all, 'auth_password_reset_total', { event: 'password_changed' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'password_change' })).toBe(1);
    expect(value(all, 'auth_csrf_failures_total')).toBe(2);
    expect(value(all, 'auth_errors_total')).toBe(0);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'logout' })).toBe(2);
    // the requests without an operation are not timed
    expect(value(all, 'auth_operation_latency_seconds_count')).toBe(5);
  });

  it('a label outside the fixed sets becomes "other"', async () => {
    const { request, metrics } = setup();
    request(undefined, { rateLimited: 'alice@example.org' as RequestOutcome['rateLimited'] });
    request('weird' as Operation, { result: 'success' }, 0.01);
    const all = await samples(metrics);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'other' })).toBe(1);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'other' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'other' })).toBe(0);
  });

  it('password resets: requested, completed, refused, and their rate limits', async () => {
    const { request, metrics } = setup();
    request(undefined, { password: 'reset_requested' });
    request(undefined, { password: 'reset_requested' });
    request(undefined, { password: 'reset_completed' });
    request(undefined, { password: 'reset_failed' });
    request(undefined, { rateLimited: 'password_reset' });
    request(undefined, { rateLimited: 'email_verification' });
    request('login', { login: 'success', password: 'forced_change_required' });
    const all = await samples(metrics);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_requested' })).toBe(2);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_completed' })).toBe(1);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_failed' })).toBe(1);
    expect(value(all, 'auth_password_reset_total', { event: 'forced_change_required' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'password_reset' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'email_verification' })).toBe(1);
  });

  it('authorization outcomes: success and failure count, an interaction pending does not; only redirected errors carry a code', async () => {
    const { request, metrics } = setup();
    request('authorize', { result: 'pending_interaction' });
    request('authorize', { result: 'success' });
    request('authorize', { result: 'failure', error: 'login_required' });
    request('authorize', { result: 'failure' });
    const all = await samples(metrics);
    expect(value(all, 'auth_oauth_total', { step: 'authorize', result: 'success' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'authorize', result: 'failure' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'login_required' })).toBe(1);
    expect(value(all, 'auth_errors_total')).toBe(1);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'authorize' })).toBe(4);
  });

  it('a request the endpoint never saw (preflight, 404, 405) is neither timed nor counted', async () => {
    const { request, metrics } = setup();
    const before = (await metrics.render()).body;
    request('token', undefined, null);
    request(undefined, undefined, null);
    request(undefined, {}, 0.01);
    expect((await metrics.render()).body).toBe(before);
  });

  it('no label value is an e-mail address, IP address or uuid, whatever the outcome carries', async () => {
    const { request, metrics } = setup();
    const hostile = ['invalid_grant', 'bob@example.org', '10.0.0.1', USER, '2001:db8::1'];
    for (const operation of ['token', 'userinfo', 'authorize', 'login', 'logout', undefined] as const) {
      for (const junk of hostile) {
        request(operation, {
          result: 'failure',
          error: junk as RequestOutcome['error'],
          grantType: junk as RequestOutcome['grantType'],
          clientId: 'mallory@example.org',
          reusedToken: junk as RequestOutcome['reusedToken'],
          login: junk as RequestOutcome['login'],
          password: junk as RequestOutcome['password'],
          rateLimited: junk as RequestOutcome['rateLimited'],
        });
        request(operation, { result: 'success', grantType: 'client_credentials', clientId: junk });
      }
    }
    const all = await samples(metrics);
    const values = all.flatMap((s) => Object.values(s.labels));
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) {
      expect(v, v).not.toMatch(EMAIL);
      expect(v, v).not.toMatch(IPV4);
      expect(v, v).not.toMatch(IPV6);
      expect(v, v).not.toMatch(UUID);
    }
  });
});

describe('the HTTP edge counts what the endpoints report', () => {
  let t: Awaited<ReturnType<typeof testProvider>>;
  let machine: { clientId: string; secret: string };
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>) > 0);
  let metrics: IdpMetrics;
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  // a context per request, as the hosts make one: the outcome slot belongs to one request
  const ctx = (): RequestContext => ({ requestId: `req-${lines.length}`, ip: '192.0.2.1', userAgent: 'vitest' });
  const send = (path: string, init: RequestInit = {}) => handleProviderRequest(new Request(`${TEST_ISSUER}${path}`, init), ctx(), t.provider, log, metrics);
  const token = (body: Record<string, string>, secret = machine.secret) =>
    send('/oidc/token', {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(machine.clientId, secret) },
    });

  beforeAll(async () => {
    t = await testProvider();
    const created = await t.client({
      clientId: REGISTERED,
      name: 'Machine',
      grantTypes: ['client_credentials'],
      scopes: ['openid'],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    machine = { clientId: created.clientId, secret: created.clientSecret! };
    metrics = createMetrics({ registeredClientIds: () => t.provider.clients.ids(), defaultMetrics: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('token requests: issued, refused with their OAuth error; preflights and 405 are not timed; one log line each', async () => {
    lines.length = 0;
    expect((await token({ grant_type: 'client_credentials' })).status).toBe(200);
    expect((await token({ grant_type: 'client_credentials' }, 'wrong-secret')).status).toBe(401);
    expect((await token({ grant_type: 'password' })).status).toBe(400);
    expect((await send('/oidc/token', { method: 'OPTIONS' })).status).toBe(204);
    expect((await send('/oidc/token')).status).toBe(405);
    expect((await send('/nowhere')).status).toBe(404);
    const all = await samples(metrics);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'success' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_client' })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'unsupported_grant_type' })).toBe(1);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'token' })).toBe(3);
    expect(value(all, 'auth_refresh_latency_seconds_count')).toBe(0);
    expect(lines.map((l) => [l.path, l.status, l.operation, l.outcome, l.error])).toEqual([
      ['/oidc/token', 200, 'token', 'success', undefined],
      ['/oidc/token', 401, 'token', 'failure', 'invalid_client'],
      ['/oidc/token', 400, 'token', 'failure', 'unsupported_grant_type'],
      ['/oidc/token', 204, 'token', undefined, undefined],
      ['/oidc/token', 405, 'token', undefined, undefined],
      ['(unmatched)', 404, undefined, undefined, undefined],
    ]);
  });

  it('authorization requests: an error page fails, an interaction is pending, prompt=none without a session fails with its code', async () => {
    const before = await samples(metrics);
    const authorize = (query: Record<string, string>) => send(`/oidc/authorize?${new URLSearchParams(query)}`);
    expect((await authorize({ client_id: 'unknown' })).status).toBe(400);
    await t.client({
      clientId: 'web',
      name: 'Web',
      redirectUris: ['https://rp.example/cb'],
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      tokenEndpointAuthMethod: 'none',
      firstParty: true,
    });
    const request = {
      client_id: 'web',
      redirect_uri: 'https://rp.example/cb',
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    };
    const login = await authorize(request);
    expect(login.headers.get('location')).toMatch(/^\/login\?/);
    const none = await authorize({ ...request, prompt: 'none' });
    expect(none.headers.get('location')).toContain('error=login_required');
    const all = await samples(metrics);
    const delta = (labels: Record<string, string>, name = 'auth_oauth_total') => value(all, name, labels) - value(before, name, labels);
    expect(delta({ step: 'authorize', result: 'failure' })).toBe(2);
    expect(delta({ step: 'authorize', result: 'success' })).toBe(0);
    expect(delta({ error_type: 'login_required' }, 'auth_errors_total')).toBe(1);
    expect(delta({ operation: 'authorize' }, 'auth_operation_latency_seconds_count')).toBe(3);
    expect(lines.slice(-3).map((l) => l.outcome)).toEqual(['failure', 'pending_interaction', 'failure']);
  });

  it('a cross-site form post is a CSRF failure of the form it was sent to', async () => {
    const before = value(await samples(metrics), 'auth_csrf_failures_total');
    const response = await send('/interaction/login', {
      method: 'POST',
      body: new URLSearchParams({ email: 'a@example.org', password: 'x' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    });
    expect(response.status).toBe(403);
    expect(value(await samples(metrics), 'auth_csrf_failures_total') - before).toBe(1);
  });
});
