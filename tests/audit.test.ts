import { parse as parseCsv } from 'csv-parse/sync';
import { createHash, randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, signIn, startStack, type Stack } from './support/oidc';
import { auditWritten } from './support/server';

type Row = {
  action: string;
  user_id: string | null;
  client_id: string | null;
  grant_type: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  created_at: Date;
};

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'audit-test/1.0' };

async function rows(stack: Stack, since: Date): Promise<Row[]> {
  await auditWritten(stack.provider);
  return stack.store.db.query<Row>(
    `select action, user_id, client_id, grant_type, host(ip_address) as ip_address, user_agent, request_id, details, created_at
       from identity.audit_logs where created_at >= $1 order by created_at, id`,
    [since.toISOString()],
  );
}

async function adminAgent(stack: Stack, email: string, password: string): Promise<BrowserAgent> {
  const agent = new BrowserAgent(stack.provider.url);
  await agent.get('/interaction/start?return_to=/');
  const res = await agent.postForm('/interaction/login', { email, password, csrf: await agent.csrf(), return_to: '/' });
  expect(res.headers.get('location')).toBe('/');
  return agent;
}

describe('token audit trail', () => {
  let stack: Stack;
  const secrets: string[] = [];
  const user = { email: 'audited.user@example.org', password: 'audited-user-password-1' };
  const admin = { email: 'audit.admin@example.org', password: 'audit-admin-password-1' };
  let userId: string;
  let spa: string;
  let svc: { id: string; secret: string };
  const redirect = 'http://127.0.0.1:9/cb';

  beforeAll(async () => {
    stack = await startStack({ TRUSTED_PROXY: 'x-forwarded-for', RATE_LIMIT_TOKEN_PER_CLIENT: '1000/60' });
    userId = (await stack.store.users.create(user)).id;
    await stack.store.users.create({ ...admin, roles: ['admin'] });
    spa = (await stack.store.clients.create({ name: 'spa', tokenEndpointAuthMethod: 'none', redirectUris: [redirect] })).client.clientId;
    const s = await stack.store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['api'] });
    svc = { id: s.client.clientId, secret: s.clientSecret! };
    secrets.push(user.password, admin.password, svc.secret);
  });
  afterAll(() => stack?.stop());

  it('records each flow with the expected fields, and never a token, code, secret or password', async () => {
    const since = new Date(Date.now() - 1000);
    const config = await client.discovery(new URL(stack.provider.url), spa, {}, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const authorize = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'openid email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's',
    });
    const agent = new BrowserAgent(stack.provider.url);
    const wrong = await agent.get(authorize.toString());
    expect(wrong.status).toBe(303);
    await agent.postForm('/interaction/login', {
      interaction: new URL(wrong.headers.get('location')!, stack.provider.url).searchParams.get('interaction')!,
      csrf: await agent.csrf(),
      email: user.email,
      password: 'not-the-password',
    });
    const callback = await signIn(agent, authorize.toString(), user);
    const code = callback.searchParams.get('code')!;
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' });
    secrets.push(code, verifier, tokens.access_token, tokens.refresh_token!, tokens.id_token!);
    await client.fetchUserInfo(config, tokens.access_token, userId);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    secrets.push(refreshed.access_token, refreshed.refresh_token!);
    // reusing the old refresh token (revokes the family), then replaying the code
    await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: spa }),
    });
    await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: spa, code_verifier: verifier }),
    });
    // client credentials, a wrong secret, introspection and revocation
    const cc = await (
      await fetch(`${stack.provider.url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(svc.id, svc.secret) },
        body: 'grant_type=client_credentials',
      })
    ).json();
    secrets.push(cc.access_token);
    const wrongSecret = 'wrong-' + randomBytes(8).toString('hex');
    secrets.push(wrongSecret);
    await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, wrongSecret) },
      body: 'grant_type=client_credentials',
    });
    await fetch(`${stack.provider.url}/oidc/introspect`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, svc.secret) },
      body: new URLSearchParams({ token: cc.access_token }),
    });
    await fetch(`${stack.provider.url}/oidc/revoke`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, svc.secret) },
      body: new URLSearchParams({ token: cc.access_token }),
    });

    const events = await rows(stack, since);
    const actions = events.map((e) => e.action);
    for (const expected of [
      'auth.login_failed',
      'auth.login_succeeded',
      'token.issued.authorization_code',
      'token.userinfo_accessed',
      'token.refreshed',
      'token.issued.refresh_token',
      'token.code_replayed',
      'token.refresh_reused',
      'security.suspicious',
      'token.issued.client_credentials',
      'client.auth_failed',
      'token.introspected',
      'token.revoked',
    ]) {
      expect(actions, expected).toContain(expected);
    }
    const issued = events.find((e) => e.action === 'token.issued.authorization_code')!;
    expect(issued).toMatchObject({
      user_id: userId,
      client_id: spa,
      grant_type: 'authorization_code',
      ip_address: '127.0.0.1',
      user_agent: expect.any(String),
      request_id: expect.any(String),
    });
    expect(issued.details).toMatchObject({
      jti: expect.any(String),
      family_id: expect.any(String),
      issued_at: expect.any(String),
      expires_at: expect.any(String),
      scopes: ['openid', 'email', 'offline_access'],
    });
    expect(Date.parse(issued.details.expires_at as string) - Date.parse(issued.details.issued_at as string)).toBe(900_000);
    const replay = events.find((e) => e.action === 'token.code_replayed')!;
    expect(replay.details).toMatchObject({ reason: 'invalid_grant', family_id: issued.details.family_id, revoked_refresh_tokens: 0 });
    const reuse = events.find((e) => e.action === 'token.refresh_reused')!;
    expect(reuse.details).toMatchObject({ reason: 'invalid_grant', family_id: issued.details.family_id, revoked_refresh_tokens: 1 });
    const patterns = events.filter((e) => e.action === 'security.suspicious').map((e) => e.details.pattern);
    expect(patterns).toEqual(expect.arrayContaining(['authorization_code_replay', 'refresh_token_reuse']));
    expect(events.find((e) => e.action === 'client.auth_failed')).toMatchObject({ client_id: svc.id, details: { reason: 'invalid_client' } });
    expect(events.find((e) => e.action === 'token.issued.client_credentials')).toMatchObject({
      client_id: svc.id,
      user_id: null,
      grant_type: 'client_credentials',
    });

    // nothing secret anywhere in any row, nor a digest of a code or token in a recognisable form
    const everything = JSON.stringify(await stack.store.db.query('select * from identity.audit_logs'));
    for (const secret of secrets) {
      expect(everything.includes(secret), `secret leaked: ${secret.slice(0, 8)}...`).toBe(false);
      expect(everything.includes(createHash('sha256').update(secret).digest('base64url'))).toBe(false);
    }
    expect(everything).not.toMatch(/audited\.user@example\.org/);
  });

  it('password reset by the development outbox: the link and its token are in no audit row, queue row or log line', async () => {
    const since = new Date(Date.now() - 1000);
    const agent = new BrowserAgent(stack.provider.url);
    await agent.get('/interaction/forgot-password');
    expect((await agent.postForm('/interaction/forgot-password', { csrf: await agent.csrf(), email: user.email })).status).toBe(303);
    // without SMTP_URL (development) the mail lands in $DATA_DIR/outbox, listed at /dev/outbox
    let link = '';
    await expect
      .poll(
        async () => {
          const page = await (await agent.get('/dev/outbox')).text();
          link = /href="(http[^"]+\/interaction\/reset-link\?token=[\w-]+)"/.exec(page)?.[1] ?? '';
          return link;
        },
        { timeout: 10_000 },
      )
      .not.toBe('');
    const token = new URL(link).searchParams.get('token')!;
    const landed = await agent.get(link);
    expect(landed.headers.get('location')).toBe('/reset-password');
    const password = `outbox ${randomBytes(4).toString('hex')} ladder quartz`;
    const done = await agent.postForm('/interaction/reset-password', { csrf: await agent.csrf(), new_password: password, confirm_password: password });
    expect(done.headers.get('location')).toBe('/reset-password?done=1');
    user.password = password;

    const events = await rows(stack, since);
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['auth.password_reset_requested', 'mail.sent', 'auth.password_reset_completed']));
    const everything =
      JSON.stringify(await stack.store.db.query('select * from identity.audit_logs')) +
      JSON.stringify(await stack.store.db.query('select * from identity.mail_queue')) +
      JSON.stringify(await stack.store.db.query('select * from identity.account_tokens')) +
      stack.provider.output();
    for (const secret of [link, token, encodeURIComponent(link), password, stack.store.box.digest(token)]) {
      expect(everything.includes(secret), `secret leaked: ${secret.slice(0, 12)}...`).toBe(false);
    }
    expect(everything).not.toMatch(/audited\.user@example\.org/);
  });

  it('believes X-Forwarded-For only as far as TRUSTED_PROXY says', async () => {
    const since = new Date();
    await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(svc.id, svc.secret), 'x-forwarded-for': '198.51.100.7, 203.0.113.9' },
      body: 'grant_type=client_credentials',
    });
    const [event] = (await rows(stack, since)).filter((e) => e.action === 'token.issued.client_credentials');
    expect(event.ip_address).toBe('203.0.113.9'); // one trusted hop: the right-most entry, not the forgeable left one

    const plain = await startStack();
    try {
      const s = await plain.store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['api'] });
      const t0 = new Date();
      await fetch(`${plain.provider.url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(s.client.clientId, s.clientSecret!), 'x-forwarded-for': '198.51.100.7' },
        body: 'grant_type=client_credentials',
      });
      const [e] = (await rows(plain, t0)).filter((r) => r.action === 'token.issued.client_credentials');
      expect(e.ip_address).toBe('127.0.0.1');
    } finally {
      await plain.stop();
    }
  });

  it('detects credential stuffing, password spraying and repeated client authentication failures', async () => {
    const since = new Date();
    const attempt = async (email: string, ip: string) => {
      const agent = new BrowserAgent(stack.provider.url);
      await agent.get('/interaction/start?return_to=/');
      await agent.postForm('/interaction/login', { email, password: 'guess-' + ip, csrf: await agent.csrf(), return_to: '/' }, { 'x-forwarded-for': ip });
    };
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await attempt(user.email, ip);
    for (let i = 0; i < 10; i++) await attempt(`victim${i}@example.org`, '192.0.2.50');
    for (let i = 0; i < 10; i++) {
      await fetch(`${stack.provider.url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(svc.id, `bad-${i}`) },
        body: 'grant_type=client_credentials',
      });
    }
    const suspicious = (await rows(stack, since)).filter((e) => e.action === 'security.suspicious');
    const byPattern = Object.fromEntries(suspicious.map((e) => [e.details.pattern, e]));
    expect(byPattern.credential_stuffing).toMatchObject({ user_id: userId, details: { evidence: { distinct_ips: 3 } } });
    expect(byPattern.password_spraying).toMatchObject({ ip_address: '192.0.2.50', details: { evidence: { distinct_accounts: 10 } } });
    expect(byPattern.client_auth_failures).toMatchObject({ client_id: svc.id });
    expect(JSON.stringify(suspicious)).not.toMatch(/victim\d@/);
  });

  it('rate limits the token endpoint and login with 429, Retry-After and RateLimit headers', async () => {
    const limited = await startStack({
      RATE_LIMIT_TOKEN_PER_CLIENT: '3/60',
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '2/900',
      AUDIT_RETENTION_DAYS: '45',
      ACCESS_TOKEN_TTL_SECONDS: '1800',
    });
    try {
      // the configuration reaches the analytics settings at start (retention; revoked-token look-back >= access token TTL)
      expect(await limited.store.analytics.settings()).toMatchObject({ rawRetentionDays: 45, revocationLookbackSeconds: 1800 });
      const s = await limited.store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['api'] });
      const call = () =>
        fetch(`${limited.provider.url}/oidc/token`, {
          method: 'POST',
          headers: { ...form, authorization: basic(s.client.clientId, s.clientSecret!) },
          body: 'grant_type=client_credentials',
        });
      const ok = await call();
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-limit')).toBe('3');
      expect(ok.headers.get('ratelimit-remaining')).toBe('2');
      expect(ok.headers.get('x-ratelimit-remaining')).toBeNull(); // the legacy names only on refusals
      await call();
      await call();
      const refused = await call();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });

      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const agent = new BrowserAgent(limited.provider.url);
        await agent.get('/interaction/start?return_to=/');
        statuses.push(
          (await agent.postForm('/interaction/login', { email: 'Someone@Example.org', password: 'x', csrf: await agent.csrf(), return_to: '/' })).status,
        );
      }
      expect(statuses).toEqual([303, 303, 429]);
      const events = (await rows(limited, new Date(0))).filter((e) => e.action === 'security.rate_limited');
      expect(events.map((e) => e.details)).toEqual([
        expect.objectContaining({ endpoint: 'token', scope: 'client', limit: 3 }),
        expect.objectContaining({ endpoint: 'login', scope: 'account', limit: 2 }),
      ]);
    } finally {
      await limited.stop();
    }
  });

  it('admin audit API: admins only, validated filters, stable keyset pages, streamed CSV', async () => {
    const anonymous = await fetch(`${stack.provider.url}/api/admin/audit`);
    expect(anonymous.status).toBe(401);
    const nonAdmin = await adminAgent(stack, user.email, user.password);
    expect((await nonAdmin.get('/api/admin/audit')).status).toBe(403);

    const agent = await adminAgent(stack, admin.email, admin.password);
    const bad = await agent.get('/api/admin/audit?start=yesterday');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_request', parameter: 'start' });
    expect((await (await agent.get('/api/admin/audit?user_id=42')).json()).parameter).toBe('user_id');

    const all = await (await agent.get(`/api/admin/audit?action=token.*&client_id=${svc.id}&limit=500`)).json();
    expect(all.entries.length).toBeGreaterThan(3);
    expect(all.entries.every((e: { action: string; client_id: string }) => e.action.startsWith('token.') && e.client_id === svc.id)).toBe(true);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { entries: { event_id: string }[]; next_cursor: string | null } = await (
        await agent.get(`/api/admin/audit?action=token.*&client_id=${svc.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.event_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.entries.map((e: { event_id: string }) => e.event_id));
    expect((await agent.get('/api/admin/audit?limit=100000')).status).toBe(400);

    const csv = await agent.get(`/api/admin/audit?format=csv&client_id=${svc.id}`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await csv.text();
    // every cell quoted (csv-stringify), CRLF line ends
    expect(text.startsWith('"created_at","action",')).toBe(true);
    const lines = parseCsv(text) as string[][];
    expect(lines[0]).toEqual(['created_at', 'action', 'user_id', 'client_id', 'grant_type', 'ip_address', 'user_agent', 'request_id', 'event_id', 'details']);
    const everyForClient = await (await agent.get(`/api/admin/audit?client_id=${svc.id}&limit=500`)).json();
    expect(lines.length - 1).toBe(everyForClient.entries.length);
  });
});

describe('second factors in the audit trail and the logs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ LOG_LEVEL: 'debug' });
  });
  afterAll(() => stack?.stop());

  const totpAt = (secret: string, ms: number) =>
    new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: ms });
  const postJson = (agent: BrowserAgent, path: string, body: Record<string, unknown>) =>
    agent.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  async function passwordStep(user: { email: string; password: string }, returnTo: string) {
    const agent = new BrowserAgent(stack.provider.url);
    await agent.get(`/interaction/start?return_to=${encodeURIComponent(returnTo)}`);
    const res = await agent.postForm('/interaction/login', { email: user.email, password: user.password, csrf: await agent.csrf(), return_to: returnTo });
    return { agent, location: res.headers.get('location')! };
  }

  it('records enrolment, successes, failures and recovery codes by id, never a TOTP secret, code or recovery code', async () => {
    const since = new Date(Date.now() - 1000);
    const user = { email: 'mfa.audited@example.org', password: 'mfa-audited-password-1' };
    const userId = (await stack.store.users.create(user)).id;
    const first = await passwordStep(user, '/account/security');
    expect(first.location).toBe('/account/security');
    const begun = (await (await postJson(first.agent, '/interaction/security/totp/begin', { csrf: await first.agent.csrf() })).json()) as {
      secret: string;
      otpauth_uri: string;
    };
    const enrolCode = totpAt(begun.secret, Date.now());
    const confirmed = (await (
      await postJson(first.agent, '/interaction/security/totp/confirm', { csrf: await first.agent.csrf(), code: enrolCode })
    ).json()) as { recovery_codes: string[] };
    expect(confirmed.recovery_codes).toHaveLength(10);

    // a sign-in with the next step's code (the enrolment's step is spent), a wrong code, a recovery code twice
    const second = await passwordStep(user, '/');
    expect(second.location).toBe('/mfa?return_to=%2F');
    const wrong = await second.agent.postForm('/interaction/mfa', { csrf: await second.agent.csrf(), code: enrolCode });
    expect(wrong.headers.get('location')).toBe('/mfa?return_to=%2F&error=invalid_code');
    const nextCode = totpAt(begun.secret, Date.now() + 30_000);
    expect((await second.agent.postForm('/interaction/mfa', { csrf: await second.agent.csrf(), code: nextCode })).headers.get('location')).toBe('/');
    const third = await passwordStep(user, '/');
    const recovery = confirmed.recovery_codes[0];
    expect((await third.agent.postForm('/interaction/mfa', { csrf: await third.agent.csrf(), code: recovery })).headers.get('location')).toBe('/');
    const fourth = await passwordStep(user, '/');
    expect((await fourth.agent.postForm('/interaction/mfa', { csrf: await fourth.agent.csrf(), code: recovery })).headers.get('location')).toContain(
      'error=invalid_code',
    );

    const events = await rows(stack, since);
    const mine = events.filter((e) => e.user_id === userId).map((e) => e.action);
    for (const expected of ['auth.mfa_enrolled', 'auth.mfa_failed', 'auth.mfa_succeeded', 'auth.recovery_code_used'])
      expect(mine, expected).toContain(expected);
    const secrets = [
      begun.secret,
      begun.otpauth_uri,
      enrolCode,
      nextCode,
      ...confirmed.recovery_codes,
      ...confirmed.recovery_codes.map((c) => c.replace('-', '')),
      user.password,
    ];
    const everything = JSON.stringify(await stack.store.db.query('select * from identity.audit_logs')) + stack.provider.output();
    for (const secret of secrets) expect(everything.includes(secret), `secret leaked: ${secret.slice(0, 4)}...`).toBe(false);
    // and at rest: the TOTP secret is a ciphertext, recovery codes are digests
    const stored =
      JSON.stringify(await stack.store.db.query('select * from identity.totp_authenticators')) +
      JSON.stringify(await stack.store.db.query('select * from identity.recovery_codes'));
    for (const secret of [begun.secret, ...confirmed.recovery_codes.map((c) => c.replace('-', ''))]) expect(stored.includes(secret)).toBe(false);
  });
});
