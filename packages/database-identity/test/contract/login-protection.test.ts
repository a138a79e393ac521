import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';
const policy = { freeFailures: 2, maxDelaySeconds: 8, forgetAfterSeconds: 3600, backstopWindowSeconds: 600 };

describe.each(driversUnderTest())('login throttles, sessions and grants on $name', (driver) => {
  let store: IdentityStore;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('a source waits 2^k seconds past its free failures (capped); the backstop counts per fixed window', async () => {
    const t0 = new Date('2031-01-01T00:00:00Z');
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    const waits: (number | null)[] = [];
    let account;
    for (let i = 0; i < 7; i++) {
      const counted = await store.users.recordLoginFailure('src-1', 'acct-1', policy, at(i));
      waits.push(counted.source.blockedUntil ? (counted.source.blockedUntil.getTime() - at(i).getTime()) / 1000 : null);
      account = counted.account;
    }
    expect(waits).toEqual([null, 1, 2, 4, 8, 8, 8]);
    expect(account).toMatchObject({ failures: 7, expiresAt: at(600) });
    // a new window starts over
    expect((await store.users.recordLoginFailure('src-2', 'acct-1', policy, at(601))).account?.failures).toBe(1);

    const state = await store.users.loginThrottleState(['src-1', 'acct-1', 'unknown'], null, at(7));
    expect([...state.throttles.keys()].sort()).toEqual(['acct-1', 'src-1']);
    expect(state.deviceRecognised).toBe(false);
  });

  it('a success forgets its sources and remembers the device; the device expires', async () => {
    const user = await store.users.create({ email: 'throttled@example.org', password: 'throttled-password' });
    const now = new Date();
    await store.users.recordLoginFailure('src-ok', null, policy, now);
    await store.users.recordLoginSuccess(user.id, ['src-ok'], { key: 'device-1', ttlSeconds: 60 }, now);
    const state = await store.users.loginThrottleState(['src-ok'], 'device-1', now);
    expect(state).toEqual({ throttles: new Map(), deviceRecognised: true });
    expect((await store.users.loginThrottleState([], 'device-1', new Date(now.getTime() + 61_000))).deviceRecognised).toBe(false);
    expect(await store.users.purgeLoginThrottles(new Date(now.getTime() + 10 * 24 * 3600_000))).toBeGreaterThan(0);
  });

  it('password change helpers: other sessions end, every grant of the user is revoked (counts)', async () => {
    const user = await store.users.create({ email: 'changer@example.org', password: 'changer-password-1' });
    const other = await store.users.create({ email: 'bystander@example.org', password: 'bystander-password' });
    const keep = await store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    await store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    await store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    const theirs = await store.sessions.create({ userId: other.id, ttlSeconds: 600 });
    expect(await store.sessions.revokeOthersOfUser(user.id, keep.sid)).toBe(2);
    expect(await store.sessions.findActive(keep.sid)).not.toBeNull();
    expect(await store.sessions.findActive(theirs.sid)).not.toBeNull();

    const { client } = await store.clients.create({ name: 'rp', redirectUris: ['https://rp.example/cb'] });
    for (const [owner, token] of [
      [user.id, 'rt-user-1'],
      [user.id, 'rt-user-2'],
      [other.id, 'rt-other'],
    ] as const) {
      const { familyId } = await store.grants.createFamily({ clientId: client.clientId, userId: owner, scope: ['openid'] });
      await store.grants.issueRefreshToken({ token, familyId, clientId: client.clientId, userId: owner, scope: ['openid'], ttlSeconds: 600 });
    }
    expect(await store.grants.revokeUserGrants(user.id, 'password_changed')).toBe(2);
    expect(await store.grants.revokeUserGrants(user.id, 'password_changed')).toBe(0);
    expect((await store.grants.findRefreshToken('rt-user-1'))?.active).toBe(false);
    expect((await store.grants.findRefreshToken('rt-other'))?.active).toBe(true);
  });
});
