import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, INDEFINITE_LOCK, randomToken, type IdentityStore, type User } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('admin queries on $name', (driver) => {
  let store: IdentityStore;
  let user: User;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
    user = await store.users.create({ email: 'admin-queries@example.org', password: 'a long enough password' });
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  async function grant(clientId: string) {
    const code = randomToken();
    const { familyId } = await store.grants.createAuthorizationCode({
      code,
      clientId,
      userId: user.id,
      sid: null,
      redirectUri: 'https://rp.example.org/cb',
      scope: ['openid'],
      nonce: null,
      codeChallenge: null,
      codeChallengeMethod: null,
      authTime: new Date(),
      ttlSeconds: 60,
    });
    await store.grants.issueRefreshToken({ token: randomToken(), familyId, clientId, userId: user.id, scope: ['openid'], ttlSeconds: 3600 });
    return familyId;
  }

  it('pages clients newest first by keyset, with search; never more than the limit', async () => {
    for (let i = 0; i < 5; i++) await store.clients.create({ clientId: `page-${i}`, name: `Paged ${i}`, redirectUris: ['https://rp.example.org/cb'] });
    const first = await store.admin.clients.page({ limit: 2, search: 'paged' });
    expect(first.items.map((c) => c.clientId)).toEqual(['page-4', 'page-3']);
    const second = await store.admin.clients.page({ limit: 2, search: 'paged', cursor: first.next });
    expect(second.items.map((c) => c.clientId)).toEqual(['page-2', 'page-1']);
    const third = await store.admin.clients.page({ limit: 2, search: 'paged', cursor: second.next });
    expect(third.items.map((c) => c.clientId)).toEqual(['page-0']);
    expect(third.next).toBeNull();
    // LIKE metacharacters are literal
    expect((await store.admin.clients.page({ limit: 10, search: '%' })).items).toEqual([]);
  });

  it('rotates a secret with a grace period, keeping only digests', async () => {
    const { client, clientSecret } = await store.clients.create({ name: 'Rotating', redirectUris: ['https://rp.example.org/cb'] });
    const rotated = await store.admin.clients.rotateSecret(client.clientId, 600);
    expect(rotated.clientSecret).not.toBe(clientSecret);
    expect(store.box.matchesDigest(rotated.clientSecret, rotated.client.clientSecretHash!)).toBe(true);
    expect(store.box.matchesDigest(clientSecret!, rotated.client.previousSecretHash!)).toBe(true);
    expect(rotated.client.previousSecretExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 500_000);
    const again = await store.admin.clients.rotateSecret(client.clientId, 0);
    expect(again.client.previousSecretHash).toBeNull();
    expect(again.client.previousSecretExpiresAt).toBeNull();
  });

  it('disabling and deleting a client revoke its grants, and say how many', async () => {
    const { client } = await store.clients.create({ name: 'Doomed', redirectUris: ['https://rp.example.org/cb'] });
    await grant(client.clientId);
    await grant(client.clientId);
    expect(await store.admin.clients.grantCounts(client.clientId)).toEqual({ liveFamilies: 2, liveRefreshTokens: 2, consents: 0 });
    const disabled = await store.admin.clients.setDisabled(client.clientId, true);
    expect(disabled.client.disabledAt).toBeInstanceOf(Date);
    expect(disabled.revokedRefreshTokens).toBe(2);
    expect((await store.admin.clients.families(client.clientId, { limit: 10 })).items.every((f) => f.revokedReason === 'client_disabled')).toBe(true);
    expect((await store.admin.clients.setDisabled(client.clientId, false)).client.disabledAt).toBeNull();
    await grant(client.clientId);
    expect(await store.admin.clients.delete(client.clientId)).toEqual({ revokedRefreshTokens: 1 });
    expect(await store.clients.find(client.clientId)).toBeNull();
  });

  it('locks a user (ending sessions and grants), unlocks, forces a password change', async () => {
    const { client } = await store.clients.create({ name: 'For locks', redirectUris: ['https://rp.example.org/cb'] });
    await grant(client.clientId);
    await store.sessions.create({ userId: user.id, ttlSeconds: 3600 });
    const locked = await store.admin.users.lock(user.id, INDEFINITE_LOCK);
    expect(locked.user.lockedUntil?.toISOString()).toBe(INDEFINITE_LOCK.toISOString());
    expect(locked.sessionsEnded).toBe(1);
    expect(locked.revokedRefreshTokens).toBe(1);
    expect((await store.admin.users.unlock(user.id)).lockedUntil).toBeNull();
    expect((await store.admin.users.forcePasswordChange(user.id)).mustChangePassword).toBe(true);
    const page = await store.admin.users.page({ limit: 10, search: 'ADMIN-QUERIES' });
    expect(page.items.map((u) => u.id)).toEqual([user.id]);
  });

  it('lists sessions by keyset and finds related audit events', async () => {
    const a = await store.sessions.create({ userId: user.id, ttlSeconds: 3600 });
    const b = await store.sessions.create({ userId: user.id, ttlSeconds: 3600 });
    const page = await store.admin.sessions.page({ limit: 1, userId: user.id });
    expect(page.items).toHaveLength(1);
    // what the console shows of a session: its sign-in methods and when it was last used
    expect(page.items[0]).toMatchObject({ amr: ['pwd'], lastSeenAt: expect.any(Date) });
    const rest = await store.admin.sessions.page({ limit: 10, userId: user.id, cursor: page.next });
    expect(new Set([...page.items, ...rest.items].map((s) => s.sid))).toEqual(new Set([a.sid, b.sid]));
    expect(await store.admin.sessions.find('no-such-sid')).toBeNull();
    expect((await store.admin.audit.security({ limit: 5 })).entries).toEqual([]);
    expect(await store.admin.audit.findByEventId('not-a-uuid')).toBeNull();
    expect((await store.admin.audit.deadLetters()).total).toBe(0);
    const counts = await store.admin.counts();
    expect(counts.users).toBe(1);
  });
});
