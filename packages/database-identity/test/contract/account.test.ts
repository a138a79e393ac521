import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, randomToken, SESSION_LAST_SEEN_RESOLUTION_SECONDS, type IdentityStore, type User } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

/** What the account page reads and changes: session metadata, connected apps, security activity, profile. */
describe.each(driversUnderTest())('account data on $name', (driver) => {
  let store: IdentityStore;
  let user: User;
  let other: User;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
    user = await store.users.create({ email: 'owner@example.org', password: 'owner-password-1', name: 'Owner' });
    other = await store.users.create({ email: 'someone.else@example.org', password: 'someone-password-1' });
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  const lastSeen = async (sid: string) =>
    (await store.db.query<{ last_seen_at: Date }>(`select last_seen_at from identity.sessions where sid = $1`, [sid]))[0].last_seen_at;
  const ageLastSeen = (sid: string, seconds: number) =>
    store.db.query(`update identity.sessions set last_seen_at = last_seen_at - make_interval(secs => $2) where sid = $1`, [sid, seconds]);

  it('sessions keep their sign-in metadata (bounded user agent) and are seen at most once a minute', async () => {
    const session = await store.sessions.create({ userId: user.id, ttlSeconds: 600, ipAddress: '203.0.113.7', userAgent: `Mozilla/5.0 ${'x'.repeat(2000)}` });
    const [summary] = await store.sessions.listActiveOfUser(user.id);
    expect(summary).toMatchObject({ sid: session.sid, ipAddress: '203.0.113.7' });
    expect(summary.userAgent).toHaveLength(512);
    // the table refuses a longer one, whoever writes it
    await expect(store.db.query(`update identity.sessions set user_agent = repeat('y', 513) where sid = $1`, [session.sid])).rejects.toThrow();

    const first = await lastSeen(session.sid);
    await store.sessions.findActive(session.sid);
    expect(await lastSeen(session.sid)).toEqual(first);
    // older than the resolution: the next lookup moves it (in the same statement)
    await ageLastSeen(session.sid, SESSION_LAST_SEEN_RESOLUTION_SECONDS + 5);
    const aged = await lastSeen(session.sid);
    expect(await store.sessions.findActive(session.sid)).toMatchObject({ sid: session.sid });
    const touched = await lastSeen(session.sid);
    expect(touched.getTime()).toBeGreaterThan(aged.getTime());
    // within the resolution again: a plain read
    await ageLastSeen(session.sid, 10);
    const recent = await lastSeen(session.sid);
    await store.sessions.findActive(session.sid);
    expect(await lastSeen(session.sid)).toEqual(recent);
  });

  it('a user ends their own sessions only; ended and expired sessions are not listed', async () => {
    const mine = await store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    const theirs = await store.sessions.create({ userId: other.id, ttlSeconds: 600 });
    await store.sessions.create({ userId: user.id, ttlSeconds: -1 });
    expect(await store.sessions.revokeOfUser(user.id, theirs.sid)).toBe(false);
    expect(await store.sessions.findActive(theirs.sid)).not.toBeNull();
    expect((await store.sessions.listActiveOfUser(user.id)).map((s) => s.sid)).toContain(mine.sid);
    expect(await store.sessions.revokeOfUser(user.id, mine.sid)).toBe(true);
    expect(await store.sessions.revokeOfUser(user.id, mine.sid)).toBe(false);
    expect(await store.sessions.findActive(mine.sid)).toBeNull();
    const listed = await store.sessions.listActiveOfUser(user.id);
    expect(listed.map((s) => s.sid)).not.toContain(mine.sid);
    expect(listed.every((s) => s.userId === user.id && s.expiresAt > new Date())).toBe(true);
  });

  it('connected apps: consents and live refresh tokens, per client; revoking one forgets the consent and ends its grants', async () => {
    const consentOnly = (await store.clients.create({ name: 'Consent only', redirectUris: ['https://a.example.org/cb'] })).client;
    const withTokens = (await store.clients.create({ name: 'With tokens', redirectUris: ['https://b.example.org/cb'] })).client;
    const untouched = (await store.clients.create({ name: 'Untouched', redirectUris: ['https://c.example.org/cb'] })).client;
    await store.consents.grant(user.id, consentOnly.clientId, ['openid', 'profile']);
    await store.consents.grant(user.id, withTokens.clientId, ['openid', 'offline_access']);
    await store.consents.grant(other.id, untouched.clientId, ['openid']);
    const { familyId } = await store.grants.createFamily({ clientId: withTokens.clientId, userId: user.id, scope: ['openid', 'offline_access'] });
    const first = randomToken();
    await store.grants.issueRefreshToken({
      token: first,
      familyId,
      clientId: withTokens.clientId,
      userId: user.id,
      scope: ['openid', 'offline_access'],
      ttlSeconds: 3600,
    });
    const second = randomToken();
    expect((await store.grants.rotateRefreshToken(first, second, 3600)).status).toBe('ok');
    // a revoked family of the same client holds nothing
    const { familyId: dead } = await store.grants.createFamily({ clientId: withTokens.clientId, userId: user.id, scope: ['email'] });
    await store.grants.issueRefreshToken({
      token: randomToken(),
      familyId: dead,
      clientId: withTokens.clientId,
      userId: user.id,
      scope: ['email'],
      ttlSeconds: 3600,
    });
    await store.grants.revokeFamily(dead, 'test');

    const apps = await store.grants.connectedApps(user.id);
    expect(apps.map((a) => a.clientId).sort()).toEqual([consentOnly.clientId, withTokens.clientId].sort());
    const tokens = apps.find((a) => a.clientId === withTokens.clientId)!;
    expect(tokens).toMatchObject({
      name: 'With tokens',
      consentScopes: ['offline_access', 'openid'],
      tokenScopes: ['offline_access', 'openid'],
      refreshTokens: 1,
    });
    expect(tokens.lastUsedAt).toBeInstanceOf(Date);
    expect(apps.find((a) => a.clientId === consentOnly.clientId)).toMatchObject({ refreshTokens: 0, lastUsedAt: null, tokenScopes: [] });

    expect(await store.grants.revokeClientForUser(user.id, withTokens.clientId, 'user_revoked_app')).toEqual({ consentRemoved: true, refreshTokensRevoked: 1 });
    expect((await store.grants.rotateRefreshToken(second, randomToken(), 3600)).status).toBe('revoked');
    expect(await store.consents.find(user.id, withTokens.clientId)).toEqual([]);
    expect((await store.grants.connectedApps(user.id)).map((a) => a.clientId)).toEqual([consentOnly.clientId]);
    // again: nothing left to remove; another user's consent stays
    expect(await store.grants.revokeClientForUser(user.id, withTokens.clientId, 'user_revoked_app')).toEqual({
      consentRemoved: false,
      refreshTokensRevoked: 0,
    });
    expect(await store.consents.find(other.id, untouched.clientId)).toEqual(['openid']);
    expect(await store.grants.connectedApps('not-a-uuid')).toEqual([]);
  });

  it("security activity: the user's events among a set of actions (exact or prefix), keyset paged", async () => {
    const insert = (action: string, userId: string | null, at: string) =>
      store.db.query(`insert into identity.audit_logs (action, user_id, created_at) values ($1, $2, $3::timestamptz)`, [action, userId, at]);
    await insert('auth.login_succeeded', user.id, '2026-11-20T10:00:00Z');
    await insert('auth.login_failed', user.id, '2026-11-20T10:01:00Z');
    await insert('token.refreshed', user.id, '2026-11-20T10:02:00Z');
    await insert('security.suspicious', user.id, '2026-11-20T10:03:00Z');
    await insert('auth.password_changed', other.id, '2026-11-20T10:04:00Z');
    // `_` in a prefix is literal, not LIKE's any-character
    await insert('authXlogin', user.id, '2026-11-20T10:05:00Z');
    const filters = { userId: user.id, actions: ['auth.*', 'security.suspicious'] };
    const page1 = await store.auditLog.search(filters, null, 2);
    expect(page1.entries.map((e) => e.action)).toEqual(['security.suspicious', 'auth.login_failed']);
    const page2 = await store.auditLog.search(filters, page1.next, 2);
    expect(page2.entries.map((e) => e.action)).toEqual(['auth.login_succeeded']);
    expect(page2.next).toBeNull();
    expect((await store.auditLog.search({ userId: user.id, actions: ['auth_*'] }, null, 10)).entries).toEqual([]);
  });

  it('profile: the name is set and cleared', async () => {
    expect((await store.users.updateProfile(user.id, { name: 'Ada Lovelace' }))?.name).toBe('Ada Lovelace');
    expect((await store.users.updateProfile(user.id, { name: null }))?.name).toBeNull();
    expect(await store.users.updateProfile('00000000-0000-4000-8000-000000000000', { name: 'x' })).toBeNull();
  });

  it('a confidential client may be created with a chosen secret (stored as a digest)', async () => {
    const secret = randomToken(32);
    const { client, clientSecret } = await store.clients.create({ name: 'Fixture', clientSecret: secret, redirectUris: ['https://d.example.org/cb'] });
    expect(clientSecret).toBe(secret);
    expect(client.clientSecretHash).not.toContain(secret);
    expect(store.box.matchesDigest(secret, client.clientSecretHash!)).toBe(true);
  });
});
