import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOutput } from '../apps/identity-provider/lib/admin/schemas';
import { tokenActivityOutput, tokenAnalyticsOutput } from '../apps/identity-provider/lib/analytics/types';
import { signedInAgent } from './support/admin';
import { BrowserAgent, signIn, startStack, type Stack } from './support/oidc';
import { auditWritten } from './support/server';

/**
 * GET /api/analytics/tokens and /api/analytics/tokens/activity against the real server: who may call them,
 * how bad parameters are answered, and that after a few real token flows every number matches what the
 * audit trail holds.
 */

type Row = { id: number; action: string; user_id: string | null; client_id: string | null; created_at: Date; details: Record<string, unknown> };

const FAILED = [
  'token.validation_failed',
  'token.pkce_failed',
  'token.code_invalid',
  'token.code_replayed',
  'token.refresh_reused',
  'token.expired',
  'client.auth_failed',
];
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('token analytics API', () => {
  let stack: Stack;
  let admin: BrowserAgent;
  let plain: BrowserAgent;
  const user = { email: 'analytics.user@example.org', password: 'analytics-user-password-1' };
  const adminUser = { email: 'analytics.admin@example.org', password: 'analytics-admin-password-1' };
  const redirect = 'http://127.0.0.1:9/cb';
  let userId: string;
  let spa: string;
  let svc: { id: string; secret: string };
  let started: Date;

  beforeAll(async () => {
    stack = await startStack({ RATE_LIMIT_TOKEN_PER_CLIENT: '1000/60' });
    started = new Date(Date.now() - 1000);
    userId = (await stack.store.users.create(user)).id;
    await stack.store.users.create({ ...adminUser, roles: ['admin'] });
    spa = (await stack.store.clients.create({ name: 'spa', tokenEndpointAuthMethod: 'none', redirectUris: [redirect] })).client.clientId;
    const s = await stack.store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['api'] });
    svc = { id: s.client.clientId, secret: s.clientSecret! };
    admin = await signedInAgent(stack, adminUser.email, adminUser.password);
    plain = await signedInAgent(stack, user.email, user.password);
  });
  afterAll(() => stack?.stop());

  it('answers 401 without a session and 403 to a non-admin, on both endpoints', async () => {
    for (const path of ['/api/analytics/tokens', '/api/analytics/tokens/activity']) {
      const anonymous = await fetch(`${stack.provider.url}${path}`);
      expect(anonymous.status).toBe(401);
      expect(problemOutput.parse(await anonymous.json())).toMatchObject({ error: 'unauthenticated' });
      const forbidden = await plain.get(path);
      expect(forbidden.status).toBe(403);
      expect(problemOutput.parse(await forbidden.json())).toMatchObject({ error: 'forbidden' });
    }
  });

  it('answers 400 naming the parameter for a bad value', async () => {
    const cases: [string, string][] = [
      ['/api/analytics/tokens?range=5d', 'range'],
      ['/api/analytics/tokens?tz=Mars/Olympus_Mons', 'tz'],
      ['/api/analytics/tokens?user_id=not-a-uuid', 'user_id'],
      ['/api/analytics/tokens?client_id=', 'client_id'],
      ['/api/analytics/tokens?range=custom&end=2026-01-02T00:00:00Z', 'start'],
      ['/api/analytics/tokens?range=custom&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
      ['/api/analytics/tokens?range=custom&start=yesterday&end=2026-01-01T00:00:00Z', 'start'],
      ['/api/analytics/tokens?range=7d&start=2026-01-02T00:00:00Z', 'start'],
      ['/api/analytics/tokens?bucket=year', 'bucket'],
      ['/api/analytics/tokens?top=0', 'top'],
      ['/api/analytics/tokens?range=24h&range=7d', 'range'],
      ['/api/analytics/tokens/activity?limit=201', 'limit'],
      ['/api/analytics/tokens/activity?cursor=garbage', 'cursor'],
      ['/api/analytics/tokens/activity?user_id=123', 'user_id'],
      ['/api/analytics/tokens?audience=', 'audience'],
      ['/api/analytics/tokens?audience=api', 'audience'],
      ['/api/analytics/tokens?audience=' + encodeURIComponent('https://api.example.com#part'), 'audience'],
      ['/api/analytics/tokens?audience=' + encodeURIComponent('https://a.example  https://b.example'), 'audience'],
      ['/api/analytics/tokens?audience=' + encodeURIComponent('https://a.example\thttps://b.example'), 'audience'],
      ['/api/analytics/tokens?audience=' + encodeURIComponent(Array.from({ length: 21 }, (_, i) => `https://r${i}.example`).join(' ')), 'audience'],
      ['/api/analytics/tokens?audience=' + encodeURIComponent(`https://long.example/${'x'.repeat(1100)}`), 'audience'],
      ['/api/analytics/tokens/activity?audience=relative/path', 'audience'],
    ];
    for (const [path, parameter] of cases) {
      const res = await admin.get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = problemOutput.parse(await res.json());
      expect(body, path).toMatchObject({ error: 'invalid_request', parameter });
      expect(typeof body.message).toBe('string');
    }
  });

  it('counts real token flows exactly', async () => {
    // a user signs in with PKCE, uses and refreshes the tokens; a service gets tokens; some requests fail
    const config = await client.discovery(new URL(stack.provider.url), spa, {}, client.None(), { execute: [client.allowInsecureRequests] });
    const flows = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const verifier = client.randomPKCECodeVerifier();
        const authorize = client.buildAuthorizationUrl(config, {
          redirect_uri: redirect,
          scope: 'openid email offline_access',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state: `s${i}`,
        });
        const callback = await signIn(new BrowserAgent(stack.provider.url), authorize.toString(), user);
        const code = callback.searchParams.get('code')!;
        const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: `s${i}` });
        await client.fetchUserInfo(config, tokens.access_token, userId);
        await client.refreshTokenGrant(config, tokens.refresh_token!);
        // replaying the code: token.code_replayed (invalid_grant)
        await fetch(`${stack.provider.url}/oidc/token`, {
          method: 'POST',
          headers: form,
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: spa, code_verifier: verifier }),
        });
      }
    };
    await flows(3);
    for (let i = 0; i < 4; i++) {
      const cc = await (
        await fetch(`${stack.provider.url}/oidc/token`, {
          method: 'POST',
          headers: { ...form, authorization: basic(svc.id, svc.secret) },
          body: 'grant_type=client_credentials',
        })
      ).json();
      if (i === 0) {
        // a revoked access token: its actual lifetime is known (found by jti)
        const revoked = await fetch(`${stack.provider.url}/oidc/revoke`, {
          method: 'POST',
          headers: { ...form, authorization: basic(svc.id, svc.secret) },
          body: new URLSearchParams({ token: cc.access_token }),
        });
        expect(revoked.status).toBe(200);
      }
    }
    const wrong = await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, 'wrong-' + randomBytes(8).toString('hex')) },
      body: 'grant_type=client_credentials',
    });
    expect(wrong.status).toBe(401);
    const unsupported = await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, svc.secret) },
      body: 'grant_type=password',
    });
    expect(unsupported.status).toBe(400);
    await auditWritten(stack.provider);

    const rows = await stack.store.db.query<Row>(
      `select id, action, user_id, client_id, created_at, details from identity.audit_logs where created_at >= $1 order by created_at, id`,
      [started.toISOString()],
    );
    const tokenRows = rows.filter((r) => r.action.startsWith('token.') || r.action === 'client.auth_failed');
    expect(tokenRows.length).toBeGreaterThan(20);

    for (const [query, filter] of [
      ['range=24h', (_: Row) => true],
      ['range=24h&tz=Asia/Kolkata&client_id=' + encodeURIComponent(spa), (r: Row) => r.client_id === spa],
      [`range=7d&tz=America/New_York&user_id=${userId}`, (r: Row) => r.user_id === userId],
    ] as [string, (r: Row) => boolean][]) {
      const res = await admin.get(`/api/analytics/tokens?${query}`);
      expect(res.status, query).toBe(200);
      const body = tokenAnalyticsOutput.parse(await res.json());
      const evs = tokenRows.filter(filter);
      const count = (p: (r: Row) => boolean) => evs.filter(p).length;
      const issued = count((r) => r.action.startsWith('token.issued.'));
      const refreshed = count((r) => r.action === 'token.refreshed');
      const failed = count((r) => FAILED.includes(r.action));
      expect(body.stats, query).toMatchObject({
        token_events: evs.length,
        total_issued: issued,
        total_refreshed: refreshed,
        total_failed: failed,
        unique_users: new Set(evs.map((r) => r.user_id).filter(Boolean)).size,
        unique_clients: new Set(evs.map((r) => r.client_id).filter(Boolean)).size,
        userinfo_accessed: count((r) => r.action === 'token.userinfo_accessed'),
        revoked: count((r) => r.action === 'token.revoked'),
        issued_by_grant: {
          authorization_code: count((r) => r.action === 'token.issued.authorization_code'),
          refresh_token: count((r) => r.action === 'token.issued.refresh_token'),
          client_credentials: count((r) => r.action === 'token.issued.client_credentials'),
          other: 0,
        },
      });
      expect(body.range.preset).toBe(query.slice(6, query.indexOf('&') > 0 ? query.indexOf('&') : undefined));
      // issued tokens live ACCESS_TOKEN_TTL_SECONDS (900 s by default)
      expect(body.lifetime.issued_count).toBe(issued);
      if (issued) expect(body.lifetime.issued_avg_seconds).toBe(900);
      expect(body.rates.failure_rate).toBeCloseTo(failed / (issued + failed), 6);
      expect(body.issuance.reduce((a, b) => a + b.total, 0)).toBe(issued);
      expect(body.failures.series.reduce((a, b) => a + b.total, 0)).toBe(failed);
      const reasons: Record<string, number> = {};
      for (const r of evs.filter((x) => FAILED.includes(x.action)))
        reasons[String(r.details.reason ?? 'unknown')] = (reasons[String(r.details.reason ?? 'unknown')] ?? 0) + 1;
      const gotReasons: Record<string, number> = {};
      for (const b of body.failures.series) for (const [k, v] of Object.entries(b.by_reason)) gotReasons[k] = (gotReasons[k] ?? 0) + v;
      expect(gotReasons, query).toEqual(reasons);
      expect(body.peak.weekday_hour.flat().reduce((a, b) => a + b, 0)).toBe(evs.length);
      const perClient = new Map<string | null, number>();
      for (const r of evs) if (r.action.startsWith('token.issued.')) perClient.set(r.client_id, (perClient.get(r.client_id) ?? 0) + 1);
      for (const c of body.by_client) expect(c.issued, `${query} ${c.client_id}`).toBe(perClient.get(c.client_id) ?? 0);
      const userIssued = count((r) => r.user_id === userId && r.action.startsWith('token.issued.'));
      expect(body.top_users).toEqual(userIssued ? [{ user_id: userId, email: user.email, issued: userIssued }] : []);
      // the first activity page: newest first
      const newest = [...evs].reverse().slice(0, body.activity.entries.length);
      expect(body.activity.entries.map((e) => [e.action, e.client_id])).toEqual(newest.map((r) => [r.action, r.client_id]));
    }
    // the revoked access token was found by its jti: its actual lifetime is known
    const all = tokenAnalyticsOutput.parse(await (await admin.get('/api/analytics/tokens?range=24h')).json());
    expect(all.lifetime.actual_count).toBe(tokenRows.filter((r) => r.action === 'token.refreshed').length + 1);
    expect(all.top_clients[0]).toMatchObject({ client_id: spa, unique_users: 1 });

    // the story's function agrees
    const [stats] = await stack.store.db.query(`select * from identity.get_token_stats(now() - interval '1 day', now())`);
    expect(stats).toMatchObject({ total_issued: all.stats.total_issued, total_failed: all.stats.total_failed, unique_users: 1, unique_clients: 2 });
  });

  it('breaks token events down by API (audience) and filters by it, exactly', async () => {
    // issued-token events naming their audience, as the token endpoint writes them for resource servers (the
    // writer's timestamps have millisecond precision, and so has the activity cursor)
    const API = 'https://api.example.com';
    const PAIR = 'https://a.example https://b.example';
    const plan: [string | null, number][] = [
      [API, 5],
      [PAIR, 2],
    ];
    let i = 0;
    for (const [audience, n] of plan) {
      for (let k = 0; k < n; k++, i++) {
        await stack.store.db.query(
          `insert into identity.audit_logs (created_at, action, client_id, grant_type, audience, details)
           values (date_trunc('milliseconds', now()) - $1::int * interval '1 millisecond', 'token.issued.client_credentials', $2, 'client_credentials', $3, '{}')`,
          [10 + i, svc.id, audience],
        );
      }
    }
    const rows = await stack.store.db.query<Row & { audience: string | null }>(
      `select id, action, user_id, client_id, created_at, details, audience from identity.audit_logs
        where created_at >= $1 and (action like 'token.%' or action = 'client.auth_failed') order by created_at desc, id desc`,
      [started.toISOString()],
    );
    const issuedOf = (p: (r: Row & { audience: string | null }) => boolean) => rows.filter((r) => r.action.startsWith('token.issued.') && p(r)).length;
    const all = tokenAnalyticsOutput.parse(await (await admin.get('/api/analytics/tokens?range=24h')).json());
    expect(all.by_audience.map((a) => [a.audience, a.issued, a.events])).toEqual([
      [null, issuedOf((r) => r.audience === null), rows.filter((r) => r.audience === null).length],
      [API, 5, 5],
      [PAIR, 2, 2],
    ]);
    expect(all.by_audience.reduce((n, a) => n + a.issued, 0)).toBe(all.stats.total_issued);

    for (const [param, audience, want] of [
      [API, API, 5],
      // the identifiers in any order: the same pair
      ['https://b.example https://a.example', PAIR, 2],
      ['default', '', issuedOf((r) => r.audience === null)],
    ] as [string, string, number][]) {
      const res = await admin.get(`/api/analytics/tokens?range=24h&audience=${encodeURIComponent(param)}`);
      expect(res.status, param).toBe(200);
      const body = tokenAnalyticsOutput.parse(await res.json());
      expect(body.filters.audience, param).toBe(audience);
      expect(body.stats.total_issued, param).toBe(want);
      expect(
        body.by_audience.map((a) => a.audience),
        param,
      ).toEqual([audience || null]);
      expect(
        body.activity.entries.every((e) => e.audience === (audience || null)),
        param,
      ).toBe(true);
      const activity = tokenActivityOutput.parse(
        await (await admin.get(`/api/analytics/tokens/activity?range=24h&limit=200&audience=${encodeURIComponent(param)}`)).json(),
      );
      expect(
        activity.entries.map((e) => e.id),
        param,
      ).toEqual(rows.filter((r) => (r.audience ?? '') === audience).map((r) => Number(r.id)));
    }
    // the story's function, for one API
    const [stats] = await stack.store.db.query(`select * from identity.get_token_stats(now() - interval '1 day', now(), null, $1)`, [API]);
    expect(stats).toMatchObject({ total_issued: 5, unique_clients: 1 });
  });

  it('pages recent activity with a keyset cursor, with filters', async () => {
    const rows = await stack.store.db.query<Row>(
      `select id, action, user_id, client_id, created_at, details from identity.audit_logs
        where created_at >= $1 and (action like 'token.%' or action = 'client.auth_failed') order by created_at desc, id desc`,
      [started.toISOString()],
    );
    for (const [query, filter] of [
      ['', (_: Row) => true],
      [`&client_id=${encodeURIComponent(svc.id)}`, (r: Row) => r.client_id === svc.id],
    ] as [string, (r: Row) => boolean][]) {
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 100; page++) {
        const res = await admin.get(`/api/analytics/tokens/activity?range=24h&limit=4${query}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        const body = tokenActivityOutput.parse(await res.json());
        expect(body.entries.length).toBeLessThanOrEqual(4);
        seen.push(...body.entries.map((e) => e.id));
        for (const e of body.entries) expect(e.failed).toBe(FAILED.includes(e.action));
        cursor = body.next_cursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(rows.filter(filter).map((r) => Number(r.id)));
    }
  });
});
