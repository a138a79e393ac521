import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../oidc/audit';
import { metricsOf, recordAuditMetrics, withMetrics } from './audit-metrics';
import { observeRequest } from './http-metrics';
import { createMetrics, type IdpMetrics } from './metrics';
import { takeRefreshGrant } from './request-scope';

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
const base = { userId: USER, ip: '203.0.113.7', userAgent: 'test', requestId: '0b7e3a9c-1d2f-4a5b-8c6d-7e8f9a0b1c2d' };

function setup() {
  const metrics = createMetrics({ registeredClientIds: () => new Set([REGISTERED]), defaultMetrics: false });
  const forwarded: AuditEvent[] = [];
  const sink = withMetrics({ record: (e) => forwarded.push(e) }, metrics);
  return { metrics, sink, forwarded };
}

async function samples(metrics: IdpMetrics): Promise<Sample[]> {
  return parseExposition((await metrics.render()).body);
}

function value(all: Sample[], name: string, labels: Record<string, string> = {}): number {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

describe('withMetrics: metrics derived from audit events', () => {
  it('forwards every event unchanged, then counts it', () => {
    const { sink, forwarded, metrics } = setup();
    const event: AuditEvent = { ...base, action: 'auth.login_succeeded', details: { sid_created: true } };
    sink.record(event);
    expect(forwarded).toEqual([event]);
    expect(metricsOf(sink)).toBe(metrics);
    expect(metricsOf({ record: () => {} })).toBeUndefined();
  });

  it('still forwards when counting throws', () => {
    const forwarded: AuditEvent[] = [];
    const broken = new Proxy({} as IdpMetrics, {
      get: () => () => {
        throw new Error('boom');
      },
    });
    const sink = withMetrics({ record: (e) => forwarded.push(e) }, broken);
    expect(() => sink.record({ action: 'auth.login_succeeded' })).not.toThrow();
    expect(forwarded).toHaveLength(1);
  });

  it('counts logins once per attempt: success, failure, locked', async () => {
    const { sink, metrics } = setup();
    sink.record({ ...base, action: 'auth.login_succeeded' });
    sink.record({ ...base, action: 'auth.login_failed', details: { reason: 'bad_password' } });
    sink.record({ ...base, action: 'auth.login_failed', details: { reason: 'unknown_user' } });
    // the attempt that locks the account: account_locked + login_failed for one attempt
    sink.record({ ...base, action: 'auth.account_locked', details: { locked_until: new Date().toISOString() } });
    sink.record({ ...base, action: 'auth.login_failed', details: { reason: 'bad_password' } });
    sink.record({ ...base, action: 'auth.login_failed', details: { reason: 'locked' } });
    const all = await samples(metrics);
    expect(value(all, 'auth_logins_total', { result: 'success', method: 'password' })).toBe(1);
    expect(value(all, 'auth_logins_total', { result: 'failure' })).toBe(3);
    expect(value(all, 'auth_logins_total', { result: 'locked' })).toBe(1);
    // login reasons are not OAuth error codes
    expect(value(all, 'auth_errors_total')).toBe(0);
  });

  it('counts issued tokens by grant type and registered client; anything else is "other"', async () => {
    const { sink, metrics } = setup();
    sink.record({ ...base, action: 'token.issued.authorization_code', clientId: REGISTERED, grantType: 'authorization_code' });
    sink.record({ ...base, action: 'token.issued.client_credentials', clientId: REGISTERED, grantType: 'client_credentials' });
    sink.record({ ...base, action: 'token.issued.client_credentials', clientId: 'alice@example.org', grantType: 'client_credentials' });
    sink.record({ ...base, action: 'token.issued.client_credentials', clientId: USER, grantType: 'client_credentials' });
    sink.record({ ...base, action: 'token.issued.client_credentials', clientId: null });
    const all = await samples(metrics);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'authorization_code', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'other' })).toBe(3);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'success' })).toBe(5);
    const clientIds = new Set(all.filter((s) => s.name === 'auth_tokens_issued_total').map((s) => s.labels.client_id));
    expect(clientIds).toEqual(new Set([REGISTERED, 'other']));
  });

  it('refresh: success, failure, reuse (also a token reuse), without double counting the issued event', async () => {
    const { sink, metrics } = setup();
    const refresh = { ...base, clientId: REGISTERED, grantType: 'refresh_token' };
    sink.record({ ...refresh, action: 'token.refreshed', details: { family_id: 'f1' } });
    sink.record({ ...refresh, action: 'token.issued.refresh_token', details: { jti: 'j1' } });
    sink.record({ ...refresh, action: 'token.refresh_reused', details: { reason: 'invalid_grant', family_id: 'f1' } });
    sink.record({ ...refresh, action: 'token.expired', details: { reason: 'invalid_grant', token_type: 'refresh_token' } });
    sink.record({ ...refresh, action: 'client.auth_failed', details: { reason: 'invalid_client' } });
    const all = await samples(metrics);
    expect(value(all, 'auth_refresh_total', { result: 'success' })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'reuse_detected' })).toBe(1);
    expect(value(all, 'auth_refresh_total', { result: 'failure' })).toBe(2);
    expect(value(all, 'auth_token_reuse_detected_total', { kind: 'refresh_token' })).toBe(1);
    expect(value(all, 'auth_tokens_issued_total', { grant_type: 'refresh_token', client_id: REGISTERED })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_grant' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'invalid_client' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(3);
  });

  it('code replay is an authorization_code reuse; other failures count their OAuth error and step', async () => {
    const { sink, metrics } = setup();
    sink.record({ ...base, clientId: REGISTERED, grantType: 'authorization_code', action: 'token.code_replayed', details: { reason: 'invalid_grant' } });
    sink.record({ ...base, clientId: REGISTERED, grantType: 'authorization_code', action: 'token.pkce_failed', details: { reason: 'invalid_grant' } });
    sink.record({ ...base, action: 'token.validation_failed', details: { reason: 'invalid_token', endpoint: 'userinfo' } });
    sink.record({ ...base, action: 'token.expired', details: { reason: 'invalid_token', endpoint: 'userinfo' } });
    sink.record({ ...base, action: 'client.auth_failed', details: { reason: 'invalid_client', endpoint: 'introspection' } });
    sink.record({ ...base, action: 'token.validation_failed', details: { reason: 'unsupported_token_type', endpoint: 'revocation' } });
    sink.record({ ...base, action: 'token.validation_failed', details: { reason: '<script>alert(1)</script>' } });
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

  it('endpoint successes, logout, password change, rate limiting', async () => {
    const { sink, metrics } = setup();
    sink.record({ ...base, action: 'token.userinfo_accessed', clientId: REGISTERED });
    sink.record({ ...base, action: 'token.introspected', clientId: REGISTERED, details: { active: true } });
    sink.record({ ...base, action: 'token.revoked', clientId: REGISTERED, details: { token_type: 'access_token' } });
    sink.record({ ...base, action: 'auth.logout', clientId: REGISTERED });
    sink.record({ ...base, action: 'auth.password_changed', details: { forced: true } });
    sink.record({ ...base, action: 'security.rate_limited', details: { endpoint: 'login', scope: 'ip' } });
    sink.record({ ...base, action: 'security.rate_limited', details: { endpoint: 'token', scope: 'client' } });
    sink.record({ ...base, action: 'security.rate_limited', details: { endpoint: 'password_change', scope: 'user' } });
    sink.record({ ...base, action: 'security.rate_limited', details: { endpoint: 'alice@example.org' } });
    sink.record({ ...base, action: 'security.suspicious', details: { pattern: 'credential_stuffing' } });
    const all = await samples(metrics);
    for (const step of ['userinfo', 'introspect', 'revoke', 'logout']) {
      expect(value(all, 'auth_oauth_total', { step, result: 'success' }), step).toBe(1);
    }
    expect(value(all, 'auth_password_reset_total', { event: 'password_changed' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'login' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'token' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'password_change' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'other' })).toBe(1);
    expect(value(all, 'auth_errors_total', { error_type: 'temporarily_unavailable' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'token', result: 'failure' })).toBe(1);
  });

  it('counts password resets and mail deliveries from their audit events', async () => {
    const { sink, metrics } = setup();
    sink.record({ ...base, action: 'auth.password_reset_requested' });
    sink.record({ ...base, action: 'auth.password_reset_requested', details: { reason: 'unknown_account' } });
    sink.record({ ...base, action: 'auth.password_reset_completed' });
    sink.record({ ...base, action: 'auth.password_reset_failed', details: { reason: 'expired' } });
    sink.record({ ...base, action: 'security.rate_limited', details: { endpoint: 'password_reset', scope: 'account' } });
    sink.record({ ...base, action: 'mail.sent', details: { template: 'password_reset' } });
    sink.record({ ...base, action: 'mail.failed', details: { template: 'email_verification', final: false } });
    sink.record({ ...base, action: 'mail.failed', details: { template: 'email_verification', final: true } });
    sink.record({ ...base, action: 'mail.failed', details: { template: 'someone@example.org', final: true } });
    const all = await samples(metrics);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_requested' })).toBe(2);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_completed' })).toBe(1);
    expect(value(all, 'auth_password_reset_total', { event: 'reset_failed' })).toBe(1);
    expect(value(all, 'auth_rate_limited_total', { endpoint: 'password_reset' })).toBe(1);
    expect(value(all, 'mail_messages_total', { template: 'password_reset', result: 'sent' })).toBe(1);
    expect(value(all, 'mail_messages_total', { template: 'email_verification', result: 'retry' })).toBe(1);
    expect(value(all, 'mail_messages_total', { template: 'email_verification', result: 'failed' })).toBe(1);
    expect(value(all, 'mail_messages_total', { template: 'other', result: 'failed' })).toBe(1);
  });

  it('notes refresh grants by request id, for the edge to time them', () => {
    const { sink } = setup();
    sink.record({ ...base, requestId: 'req-cc', action: 'token.issued.client_credentials', grantType: 'client_credentials' });
    expect(takeRefreshGrant('req-cc')).toBe(false);
    sink.record({ ...base, requestId: 'req-refresh', action: 'token.refreshed', grantType: 'refresh_token' });
    expect(takeRefreshGrant('req-refresh')).toBe(true);
    expect(takeRefreshGrant('req-refresh')).toBe(false); // taken once, then forgotten
    // without a request id (CLI, maintenance) nothing breaks
    expect(() => sink.record({ ...base, requestId: undefined, action: 'token.refreshed', grantType: 'refresh_token' })).not.toThrow();
  });

  it('no label value is an e-mail address, IP address or uuid, whatever the events carry', async () => {
    const { sink, metrics } = setup();
    const hostile = { userId: USER, ip: '198.51.100.23', clientId: 'mallory@example.org', grantType: 'refresh_token', requestId: base.requestId };
    const actions: AuditEvent['action'][] = [
      'token.issued.authorization_code',
      'token.issued.refresh_token',
      'token.issued.client_credentials',
      'token.refreshed',
      'token.userinfo_accessed',
      'token.revoked',
      'token.introspected',
      'token.validation_failed',
      'token.expired',
      'token.code_invalid',
      'token.code_replayed',
      'token.pkce_failed',
      'token.refresh_reused',
      'client.auth_failed',
      'auth.login_succeeded',
      'auth.login_failed',
      'auth.account_locked',
      'auth.logout',
      'auth.password_changed',
      'security.rate_limited',
      'security.suspicious',
    ];
    for (const action of actions) {
      for (const reason of ['invalid_grant', 'bob@example.org', '10.0.0.1', USER, '2001:db8::1']) {
        sink.record({ ...hostile, action, details: { reason, endpoint: reason, jti: USER, email: 'bob@example.org' } });
      }
    }
    observeRequest(metrics, {
      method: 'GET',
      pathname: '/oidc/authorize',
      status: 303,
      location: 'https://rp.example/cb?error=carol@example.org',
      seconds: 0.01,
      refreshGrant: false,
    });
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

  it('recordAuditMetrics ignores unknown actions', async () => {
    const metrics = createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
    const before = (await metrics.render()).body;
    recordAuditMetrics({ action: 'something.else' as AuditEvent['action'] }, metrics);
    expect((await metrics.render()).body).toBe(before);
  });
});

describe('observeRequest: what the HTTP edge measures', () => {
  const fresh = () => createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
  const req = { method: 'POST', status: 200, location: null, seconds: 0.02, refreshGrant: false };

  it('times operations; refresh grants also into the refresh histogram', async () => {
    const metrics = fresh();
    observeRequest(metrics, { ...req, pathname: '/oidc/token', refreshGrant: true });
    observeRequest(metrics, { ...req, pathname: '/oidc/token' });
    observeRequest(metrics, { ...req, pathname: '/interaction/login', status: 303, location: '/oidc/authorize/resume?interaction=x' });
    observeRequest(metrics, { ...req, pathname: '/oidc/token', method: 'OPTIONS', status: 204 });
    observeRequest(metrics, { ...req, pathname: '/oidc/token', method: 'GET', status: 405 });
    observeRequest(metrics, { ...req, pathname: '/.well-known/openid-configuration', method: 'GET' });
    const all = await samples(metrics);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'token' })).toBe(2);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'login' })).toBe(1);
    expect(value(all, 'auth_refresh_latency_seconds_count')).toBe(1);
    expect(value(all, 'auth_operation_latency_seconds_count')).toBe(3);
  });

  it('a 403 from an interaction form is a CSRF failure; a login that demands a new password is counted', async () => {
    const metrics = fresh();
    observeRequest(metrics, { ...req, pathname: '/interaction/login', status: 403 });
    observeRequest(metrics, { ...req, pathname: '/interaction/consent', status: 403 });
    observeRequest(metrics, { ...req, pathname: '/oidc/token', status: 403 });
    observeRequest(metrics, { ...req, pathname: '/interaction/login', status: 303, location: '/password?interaction=abc' });
    const all = await samples(metrics);
    expect(value(all, 'auth_csrf_failures_total')).toBe(2);
    expect(value(all, 'auth_password_reset_total', { event: 'forced_change_required' })).toBe(1);
  });

  it('authorization outcomes: code = success, error redirect or error page = failure, interaction = none', async () => {
    const metrics = fresh();
    const get = { ...req, method: 'GET', status: 303 };
    observeRequest(metrics, { ...get, pathname: '/oidc/authorize', location: '/login?interaction=abc' });
    observeRequest(metrics, { ...get, pathname: '/oidc/authorize/resume', location: 'https://rp.example/cb?code=xyz&state=s&iss=x' });
    observeRequest(metrics, { ...get, pathname: '/oidc/authorize', location: 'https://rp.example/cb?error=login_required&state=s' });
    observeRequest(metrics, { ...get, pathname: '/oidc/authorize', status: 400, location: null });
    const all = await samples(metrics);
    expect(value(all, 'auth_oauth_total', { step: 'authorize', result: 'success' })).toBe(1);
    expect(value(all, 'auth_oauth_total', { step: 'authorize', result: 'failure' })).toBe(2);
    expect(value(all, 'auth_errors_total', { error_type: 'login_required' })).toBe(1);
    expect(value(all, 'auth_operation_latency_seconds_count', { operation: 'authorize' })).toBe(4);
  });
});
