import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenSubjects, createIdentityStore, randomToken, type IdentityStore, type NewAuthorizationCode, type User } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('revocation epoch and access token subjects on $name', (driver) => {
  let store: IdentityStore;
  /** A second store over the same database: another instance, which hears nothing of this one's changes. */
  let elsewhere: IdentityStore;
  let user: User;
  let clientId: string;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
    elsewhere = createIdentityStore(db, KEY_SECRET);
    user = await store.users.create({ email: 'epoch@example.org', password: 'a long enough password', name: 'Ep Och' });
    ({
      client: { clientId },
    } = await store.clients.create({ name: 'RP', redirectUris: ['https://rp.example.org/cb'] }));
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  function codeInput(overrides: Partial<NewAuthorizationCode> = {}): NewAuthorizationCode {
    return {
      code: randomToken(),
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
      ...overrides,
    };
  }

  /** A redeemed code: a live family, as after the authorization_code grant. */
  async function liveFamily(userId = user.id) {
    const input = codeInput({ userId });
    const { familyId } = await store.grants.createAuthorizationCode(input);
    expect((await store.grants.consumeAuthorizationCode(input.code)).status).toBe('ok');
    return { familyId, code: input.code };
  }

  /** How far the epoch moved while `change` ran. */
  async function bumps(change: () => Promise<unknown>): Promise<number> {
    const before = await store.revocations.epoch();
    await change();
    return (await store.revocations.epoch()) - before;
  }

  describe('the epoch', () => {
    it('moves on revocation: a jti, a family, a replayed code, a reused refresh token', async () => {
      expect(await bumps(() => store.grants.revokeAccessToken(randomToken(8), new Date(Date.now() + 60_000)))).toBe(1);
      const { familyId, code } = await liveFamily();
      expect(await bumps(() => store.grants.revokeFamily(familyId, 'test'))).toBe(1);

      const replayed = await liveFamily();
      expect(await bumps(() => store.grants.consumeAuthorizationCode(replayed.code))).toBe(1);

      const { familyId: rotating } = await liveFamily();
      const first = randomToken();
      await store.grants.issueRefreshToken({ token: first, familyId: rotating, clientId, userId: user.id, scope: ['openid'], ttlSeconds: 600 });
      expect(await bumps(() => store.grants.rotateRefreshToken(first, randomToken(), 600))).toBe(0);
      expect(await bumps(() => store.grants.rotateRefreshToken(first, randomToken(), 600))).toBe(1);

      // nothing changed: no bump (statement triggers see empty transition tables)
      expect(await bumps(() => store.grants.revokeFamily(familyId, 'again'))).toBe(0);
      expect(await bumps(() => store.grants.consumeAuthorizationCode(code))).toBe(0);
    });

    it('moves when a user is deleted or a claim changes, not on logins or password changes', async () => {
      const other = await store.users.create({ email: 'claims@example.org', password: 'a long enough password' });
      // the account-lock columns (no longer written by the provider) are no claims either
      const failLogin = () =>
        store.db.query(
          `update identity.users set failed_login_count = failed_login_count + 1, locked_until = now() + interval '1 minute', updated_at = now() where id = $1`,
          [other.id],
        );
      expect(await bumps(failLogin)).toBe(0);
      expect(
        await bumps(() =>
          store.db.query(`update identity.users set failed_login_count = 0, locked_until = null, updated_at = now() where id = $1`, [other.id]),
        ),
      ).toBe(0);
      expect(await bumps(() => store.users.setPassword(other.id, 'another long password'))).toBe(0);
      expect(await bumps(() => store.db.query(`update identity.users set roles = '{admin}', updated_at = now() where id = $1`, [other.id]))).toBe(0);
      // writing a claim column with its current value changes nothing
      expect(await bumps(() => store.db.query(`update identity.users set email = email where id = $1`, [other.id]))).toBe(0);

      expect(await bumps(() => store.db.query(`update identity.users set name = 'Renamed' where id = $1`, [other.id]))).toBe(1);
      expect(await bumps(() => store.db.query(`update identity.users set email_verified = true where id = $1`, [other.id]))).toBe(1);
      expect(await bumps(() => store.db.query(`update identity.users set given_name = null where id = $1`, [other.id]))).toBe(0);
      expect(await bumps(() => store.db.query(`update identity.users set family_name = 'F' where id = $1`, [other.id]))).toBe(1);
      await liveFamily(other.id);
      // the user and (by cascade) its families: one bump at least
      expect(await bumps(() => store.db.query(`delete from identity.users where id = $1`, [other.id]))).toBeGreaterThan(0);
      expect(await bumps(() => store.db.query(`delete from identity.users where id = $1`, [other.id]))).toBe(0);
    });

    it('moves when the purge deletes families, and not when it deletes none', async () => {
      await store.grants.purgeExpired(0);
      expect(await bumps(() => store.grants.purgeExpired(0))).toBe(0);
      const { familyId } = await liveFamily();
      await store.db.query(`update identity.authorization_codes set expires_at = now() - interval '2 minutes' where family_id = $1`, [familyId]);
      await store.db.query(`update identity.token_families set created_at = now() - interval '1 hour' where id = $1`, [familyId]);
      expect(await bumps(() => store.grants.purgeExpired(60))).toBe(1);
    });
  });

  describe('accessTokenSubjects', () => {
    /** A clock the test moves by hand. */
    function clock() {
      let t = 1_000_000;
      return { now: () => t, advance: (ms: number) => void (t += ms) };
    }

    /** Counts the queries a store answers, so a test can tell memory from the database. */
    function counted(target: IdentityStore) {
      const counts = { epoch: 0, subject: 0 };
      const view = {
        revocations: { ...target.revocations, epoch: () => (counts.epoch++, target.revocations.epoch()) },
        users: {
          ...target.users,
          findAccessTokenSubject: (...args: Parameters<IdentityStore['users']['findAccessTokenSubject']>) => (
            counts.subject++,
            target.users.findAccessTokenSubject(...args)
          ),
        },
      };
      return { view, counts };
    }

    it('answers from memory, positive and negative, re-reading only the epoch once per interval', async () => {
      const time = clock();
      const { view, counts } = counted(store);
      const subjects = accessTokenSubjects(view, { pollMs: 500, now: time.now });
      const { familyId } = await liveFamily();
      const live = await subjects.lookup(user.id, 'jti-memory', familyId);
      expect(live).toEqual({ user: expect.objectContaining({ id: user.id, name: 'Ep Och' }), revoked: false });
      const gone = await subjects.lookup('00000000-0000-4000-8000-000000000000', 'jti-memory-2', '00000000-0000-4000-8000-000000000001');
      expect(gone).toEqual({ user: null, revoked: true });
      expect(counts).toEqual({ epoch: 1, subject: 2 });

      expect(await subjects.lookup(user.id, 'jti-memory', familyId)).toBe(live);
      expect(await subjects.lookup('00000000-0000-4000-8000-000000000000', 'jti-memory-2', '00000000-0000-4000-8000-000000000001')).toBe(gone);
      expect(counts).toEqual({ epoch: 1, subject: 2 });
      time.advance(500);
      await Promise.all([subjects.lookup(user.id, 'jti-memory', familyId), subjects.lookup(user.id, 'jti-memory', familyId)]);
      expect(counts).toEqual({ epoch: 2, subject: 2 });
      subjects.close();
    });

    it('a client_credentials subject has no user; only its jti can revoke it', async () => {
      const subjects = accessTokenSubjects(store);
      expect(await subjects.lookup(null, 'jti-cc', null)).toEqual({ user: null, revoked: false });
      await store.grants.revokeAccessToken('jti-cc', new Date(Date.now() + 60_000));
      expect(await subjects.lookup(null, 'jti-cc', null)).toEqual({ user: null, revoked: true });
      // ids we never issue read as revoked, as before
      expect(await subjects.lookup('not-a-uuid', 'jti-x', null)).toEqual({ user: null, revoked: true });
      expect(await subjects.lookup(user.id, 'jti-x', 'garbage')).toEqual({ user: null, revoked: true });
      subjects.close();
    });

    it('sees a revocation made through its own store on the very next lookup, with no time passing', async () => {
      const time = clock();
      const subjects = accessTokenSubjects(store, { pollMs: 60_000, now: time.now });
      const { familyId } = await liveFamily();
      expect((await subjects.lookup(user.id, 'jti-a', familyId)).revoked).toBe(false);
      expect((await subjects.lookup(user.id, 'jti-b', familyId)).revoked).toBe(false);

      await store.grants.revokeAccessToken('jti-a', new Date(Date.now() + 60_000));
      expect((await subjects.lookup(user.id, 'jti-a', familyId)).revoked).toBe(true);
      expect((await subjects.lookup(user.id, 'jti-b', familyId)).revoked).toBe(false);

      await store.grants.revokeFamily(familyId, 'test');
      expect((await subjects.lookup(user.id, 'jti-b', familyId)).revoked).toBe(true);
      subjects.close();
    });

    it('a change racing a lookup is not cached over: the lookup after it returns is fresh', async () => {
      const subjects = accessTokenSubjects(store, { pollMs: 60_000 });
      const { familyId } = await liveFamily();
      await subjects.lookup(null, 'jti-warm', null); // epoch read: the next miss goes straight to its query
      // a miss in flight while the family is revoked; whatever it answers, it must not be remembered
      const racing = subjects.lookup(user.id, 'jti-race', familyId);
      await store.grants.revokeFamily(familyId, 'test');
      await racing;
      expect((await subjects.lookup(user.id, 'jti-race', familyId)).revoked).toBe(true);
      subjects.close();
    });

    it("sees another instance's revocation and claim change once the poll interval has passed", async () => {
      const time = clock();
      const subjects = accessTokenSubjects(store, { pollMs: 500, now: time.now });
      const { familyId } = await liveFamily();
      expect((await subjects.lookup(user.id, 'jti-far', familyId)).revoked).toBe(false);

      await elsewhere.grants.revokeFamily(familyId, 'elsewhere');
      time.advance(500);
      expect((await subjects.lookup(user.id, 'jti-far', familyId)).revoked).toBe(true);

      const other = await liveFamily();
      expect((await subjects.lookup(user.id, 'jti-name', other.familyId)).user?.name).toBe('Ep Och');
      await elsewhere.db.query(`update identity.users set name = 'Changed Elsewhere' where id = $1`, [user.id]);
      time.advance(500);
      expect((await subjects.lookup(user.id, 'jti-name', other.familyId)).user?.name).toBe('Changed Elsewhere');
      subjects.close();
    });

    it('stays bounded', async () => {
      const { view, counts } = counted(store);
      const subjects = accessTokenSubjects(view, { maxEntries: 2, pollMs: 60_000 });
      for (const jti of ['j1', 'j2', 'j3']) await subjects.lookup(null, jti, null);
      await subjects.lookup(null, 'j3', null);
      await subjects.lookup(null, 'j2', null);
      expect(counts.subject).toBe(3);
      await subjects.lookup(null, 'j1', null); // the oldest went
      expect(counts.subject).toBe(4);
      subjects.close();
    });
  });
});
