import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, randomToken, type IdentityStore, type NewAuthorizationCode, type User } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('sessions, consents and grants on $name', (driver) => {
  let store: IdentityStore;
  let user: User;
  let clientId: string;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
    user = await store.users.create({ email: 'grants@example.org', password: 'a long enough password' });
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
      sid: 'sid-1',
      redirectUri: 'https://rp.example.org/cb',
      scope: ['openid', 'offline_access'],
      nonce: 'n-0S6',
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      authTime: new Date(Date.now() - 5_000),
      ttlSeconds: 60,
      ...overrides,
    };
  }

  async function newFamilyWithRefreshToken() {
    const input = codeInput();
    const { familyId } = await store.grants.createAuthorizationCode(input);
    expect((await store.grants.consumeAuthorizationCode(input.code)).status).toBe('ok');
    const token = randomToken();
    await store.grants.issueRefreshToken({ token, familyId, clientId, userId: user.id, scope: input.scope, ttlSeconds: 3600 });
    return { familyId, token, input };
  }

  async function familyRow(familyId: string) {
    const [row] = await store.db.query<{ revoked_at: Date | null; revoked_reason: string | null }>(
      `select revoked_at, revoked_reason from identity.token_families where id = $1`,
      [familyId],
    );
    return row;
  }

  describe('authorization codes', () => {
    it('redeems a code once, with everything it was issued for', async () => {
      const input = codeInput();
      const { familyId } = await store.grants.createAuthorizationCode(input);
      const result = await store.grants.consumeAuthorizationCode(input.code);
      expect(result).toEqual({
        status: 'ok',
        grant: {
          familyId,
          clientId,
          userId: user.id,
          sid: 'sid-1',
          redirectUri: input.redirectUri,
          scope: input.scope,
          nonce: input.nonce,
          codeChallenge: input.codeChallenge,
          codeChallengeMethod: 'S256',
          authTime: input.authTime,
          resources: [],
          authentication: null,
        },
      });
    });

    it('treats a second redemption as replay and kills everything issued from the code', async () => {
      const { familyId, token, input } = await newFamilyWithRefreshToken();
      expect(await store.grants.isAccessTokenRevoked('jti-from-code', familyId)).toBe(false);

      const replay = await store.grants.consumeAuthorizationCode(input.code);
      expect(replay).toEqual({ status: 'replayed', familyId, clientId, revokedRefreshTokens: 1 });
      expect(await familyRow(familyId)).toMatchObject({ revoked_reason: 'code_replayed' });
      expect(await store.grants.rotateRefreshToken(token, randomToken(), 3600)).toEqual({ status: 'revoked', clientId });
      expect((await store.grants.findRefreshToken(token))?.active).toBe(false);
      expect(await store.grants.isAccessTokenRevoked('jti-from-code', familyId)).toBe(true);

      const again = await store.grants.consumeAuthorizationCode(input.code);
      expect(again).toEqual({ status: 'replayed', familyId, clientId, revokedRefreshTokens: 0 });
    });

    it('lets exactly one of 10 concurrent redemptions succeed', async () => {
      const input = codeInput();
      await store.grants.createAuthorizationCode(input);
      const results = await Promise.all(Array.from({ length: 10 }, () => store.grants.consumeAuthorizationCode(input.code)));
      expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'replayed')).toHaveLength(9);
    });

    it('burns an expired code without revoking anything, also on later attempts', async () => {
      const input = codeInput();
      const { familyId } = await store.grants.createAuthorizationCode(input);
      await store.db.query(`update identity.authorization_codes set expires_at = now() - interval '1 second' where family_id = $1`, [familyId]);
      expect(await store.grants.consumeAuthorizationCode(input.code)).toEqual({ status: 'expired', clientId });
      expect(await store.grants.consumeAuthorizationCode(input.code)).toEqual({ status: 'expired', clientId });
      expect((await familyRow(familyId)).revoked_at).toBeNull();
    });

    it('does not redeem a code whose family was revoked first', async () => {
      const input = codeInput();
      const { familyId } = await store.grants.createAuthorizationCode(input);
      expect(await store.grants.revokeFamily(familyId, 'admin')).toBe(0);
      expect(await store.grants.consumeAuthorizationCode(input.code)).toEqual({ status: 'revoked', clientId });
    });

    it('reports unknown codes', async () => {
      expect(await store.grants.consumeAuthorizationCode(randomToken())).toEqual({ status: 'not_found' });
    });

    it('accepts a code without PKCE or nonce', async () => {
      const input = codeInput({ codeChallenge: null, codeChallengeMethod: null, nonce: null, sid: null });
      await store.grants.createAuthorizationCode(input);
      const result = await store.grants.consumeAuthorizationCode(input.code);
      expect(result).toMatchObject({ status: 'ok', grant: { codeChallenge: null, codeChallengeMethod: null, nonce: null, sid: null } });
    });
  });

  describe('refresh tokens', () => {
    it('rotates along a chain; reusing an old token revokes the family including the newest token', async () => {
      const { familyId, token: first, input } = await newFamilyWithRefreshToken();
      const second = randomToken();
      const rotated = await store.grants.rotateRefreshToken(first, second, 7200);
      expect(rotated).toMatchObject({
        status: 'ok',
        record: { familyId, clientId, userId: user.id, scope: input.scope, authTime: input.authTime, sid: 'sid-1' },
      });
      if (rotated.status !== 'ok') throw new Error('unreachable');
      expect(rotated.record.expiresAt.getTime() - rotated.record.createdAt.getTime()).toBe(7_200_000);

      const third = randomToken();
      expect((await store.grants.rotateRefreshToken(second, third, 3600)).status).toBe('ok');
      expect(await store.grants.findRefreshToken(third)).toMatchObject({ familyId, active: true });
      expect(await store.grants.findRefreshToken(first)).toMatchObject({ familyId, active: false });

      const reuse = await store.grants.rotateRefreshToken(first, randomToken(), 3600);
      expect(reuse).toEqual({ status: 'reused', familyId, clientId, revokedRefreshTokens: 1 });
      expect(await familyRow(familyId)).toMatchObject({ revoked_reason: 'refresh_reused' });
      expect(await store.grants.rotateRefreshToken(third, randomToken(), 3600)).toEqual({ status: 'revoked', clientId });
      expect(await store.grants.findRefreshToken(third)).toMatchObject({ active: false });
      expect(await store.grants.isAccessTokenRevoked('jti-any', familyId)).toBe(true);
    });

    it('lets only one of two concurrent rotations succeed; the other counts as reuse', async () => {
      const { token } = await newFamilyWithRefreshToken();
      const results = await Promise.all([
        store.grants.rotateRefreshToken(token, randomToken(), 3600),
        store.grants.rotateRefreshToken(token, randomToken(), 3600),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['ok', 'reused']);
    });

    it('refuses an expired refresh token without revoking the family', async () => {
      const { familyId, token } = await newFamilyWithRefreshToken();
      await store.db.query(`update identity.refresh_tokens set expires_at = now() - interval '1 second' where family_id = $1`, [familyId]);
      expect(await store.grants.rotateRefreshToken(token, randomToken(), 3600)).toEqual({ status: 'expired', clientId });
      expect(await store.grants.findRefreshToken(token)).toMatchObject({ active: false });
      expect((await familyRow(familyId)).revoked_at).toBeNull();
    });

    it('reports unknown refresh tokens', async () => {
      expect(await store.grants.rotateRefreshToken(randomToken(), randomToken(), 3600)).toEqual({ status: 'not_found' });
      expect(await store.grants.findRefreshToken(randomToken())).toBeNull();
    });

    it('revokes a family once, counting the tokens that were still usable', async () => {
      const { familyId, token } = await newFamilyWithRefreshToken();
      const next = randomToken();
      await store.grants.rotateRefreshToken(token, next, 3600);
      expect(await store.grants.revokeFamily(familyId, 'logout')).toBe(1);
      expect(await store.grants.revokeFamily(familyId, 'other')).toBe(0);
      expect(await familyRow(familyId)).toMatchObject({ revoked_reason: 'logout' });
      expect(await store.grants.revokeFamily('not-a-uuid', 'x')).toBe(0);
    });

    it('creates families without a code', async () => {
      const { familyId } = await store.grants.createFamily({ clientId, userId: null, scope: ['api'] });
      const token = randomToken();
      await store.grants.issueRefreshToken({ token, familyId, clientId, userId: null, scope: ['api'], ttlSeconds: 60 });
      const rotated = await store.grants.rotateRefreshToken(token, randomToken(), 60);
      expect(rotated).toMatchObject({ status: 'ok', record: { familyId, userId: null, authTime: null, sid: null } });
    });
  });

  it('stores codes and refresh tokens only as keyed digests', async () => {
    const { familyId, token, input } = await newFamilyWithRefreshToken();
    const codes = await store.db.query<Record<string, unknown>>(`select * from identity.authorization_codes where family_id = $1`, [familyId]);
    const tokens = await store.db.query<Record<string, unknown>>(`select * from identity.refresh_tokens where family_id = $1`, [familyId]);
    expect(codes).toHaveLength(1);
    expect(tokens).toHaveLength(1);
    expect(JSON.stringify(codes)).not.toContain(input.code);
    expect(JSON.stringify(tokens)).not.toContain(token);
    expect(store.box.matchesDigest(input.code, String(codes[0].code_hash))).toBe(true);
    expect(store.box.matchesDigest(token, String(tokens[0].token_hash))).toBe(true);
  });

  describe('access token revocation', () => {
    it('revokes by jti until expiry, idempotently', async () => {
      const jti = randomToken(16);
      expect(await store.grants.isAccessTokenRevoked(jti, null)).toBe(false);
      const expiresAt = new Date(Date.now() + 600_000);
      await store.grants.revokeAccessToken(jti, expiresAt);
      await store.grants.revokeAccessToken(jti, expiresAt);
      expect(await store.grants.isAccessTokenRevoked(jti, null)).toBe(true);
      expect(await store.grants.isAccessTokenRevoked(randomToken(16), null)).toBe(false);
    });

    it('treats a token of a live family as valid and of an unknown family as revoked', async () => {
      const { familyId } = await newFamilyWithRefreshToken();
      expect(await store.grants.isAccessTokenRevoked('jti-live', familyId)).toBe(false);
      expect(await store.grants.isAccessTokenRevoked('jti-live', '00000000-0000-4000-8000-000000000000')).toBe(true);
      expect(await store.grants.isAccessTokenRevoked('jti-live', 'garbage')).toBe(true);
    });
  });

  describe('sessions', () => {
    it('creates, finds, revokes and expires sessions', async () => {
      const before = await store.sessions.countActive();
      const authTime = new Date(Date.now() - 60_000);
      const session = await store.sessions.create({
        userId: user.id,
        authTime,
        ttlSeconds: 3600,
        ipAddress: '203.0.113.9',
        userAgent: 'Mozilla/5.0',
      });
      expect(session.sid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(session).toMatchObject({ userId: user.id, authTime });
      expect(session.expiresAt.getTime() - session.createdAt.getTime()).toBe(3_600_000);
      expect(await store.sessions.findActive(session.sid)).toEqual(session);
      expect(await store.sessions.countActive()).toBe(before + 1);

      expect(await store.sessions.revoke(session.sid)).toBe(true);
      expect(await store.sessions.revoke(session.sid)).toBe(false);
      expect(await store.sessions.findActive(session.sid)).toBeNull();
      expect(await store.sessions.countActive()).toBe(before);

      const expired = await store.sessions.create({ userId: user.id, ttlSeconds: -1 });
      expect(await store.sessions.findActive(expired.sid)).toBeNull();
      expect(await store.sessions.revoke(expired.sid)).toBe(false);
      expect(await store.sessions.findActive(randomToken())).toBeNull();
    });

    it('defaults auth_time to now and drops an unparseable IP address rather than failing the login', async () => {
      const session = await store.sessions.create({ userId: user.id, ttlSeconds: 60, ipAddress: '1.2.3.4, 5.6.7.8' });
      expect(Math.abs(session.authTime.getTime() - Date.now())).toBeLessThan(60_000);
      const [row] = await store.db.query(`select ip_address from identity.sessions where sid = $1`, [session.sid]);
      expect(row).toEqual({ ip_address: null });
    });
  });

  describe('consents', () => {
    it('returns [] when none, and widens to the union of grants', async () => {
      expect(await store.consents.find(user.id, clientId)).toEqual([]);
      await store.consents.grant(user.id, clientId, ['openid', 'profile', 'openid']);
      expect(await store.consents.find(user.id, clientId)).toEqual(['openid', 'profile']);
      await store.consents.grant(user.id, clientId, ['email', 'profile']);
      expect(await store.consents.find(user.id, clientId)).toEqual(['email', 'openid', 'profile']);
    });
  });

  it('purges what expired longer than the grace period ago, and families left empty', async () => {
    await store.grants.purgeExpired(0);
    const old = await newFamilyWithRefreshToken();
    const live = await newFamilyWithRefreshToken();
    await store.grants.revokeAccessToken('jti-old', new Date(Date.now() - 120_000));
    await store.grants.revokeAccessToken('jti-live', new Date(Date.now() + 600_000));
    const oldSession = await store.sessions.create({ userId: user.id, ttlSeconds: -120 });
    const liveSession = await store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    const both = [old.familyId, live.familyId];
    await store.db.query(`update identity.authorization_codes set expires_at = now() - interval '2 minutes' where family_id = any($1::uuid[])`, [both]);
    await store.db.query(`update identity.refresh_tokens set expires_at = now() - interval '2 minutes' where family_id = $1`, [old.familyId]);
    await store.db.query(`update identity.token_families set created_at = now() - interval '1 hour' where id = any($1::uuid[])`, [both]);

    // within the grace period nothing goes
    expect(await store.grants.purgeExpired(3600)).toBe(0);
    // old family: code, refresh token and family; live family: code only; plus jti-old and the old session
    expect(await store.grants.purgeExpired(60)).toBe(6);
    expect(await store.grants.findRefreshToken(old.token)).toBeNull();
    expect(await store.grants.findRefreshToken(live.token)).toMatchObject({ active: true });
    expect(await store.grants.isAccessTokenRevoked('jti-old', live.familyId)).toBe(false);
    expect(await store.grants.isAccessTokenRevoked('jti-live', null)).toBe(true);
    expect(await store.grants.isAccessTokenRevoked('jti-x', old.familyId)).toBe(true);
    expect(await store.sessions.findActive(liveSession.sid)).not.toBeNull();
    const sessions = await store.db.query(`select 1 from identity.sessions where sid = $1`, [oldSession.sid]);
    expect(sessions).toEqual([]);
  });

  it('finds an access token subject and its revocation state in one query', async () => {
    const { familyId } = await newFamilyWithRefreshToken();
    expect(await store.users.findAccessTokenSubject(user.id, 'jti-subject-live', familyId)).toEqual({
      user: expect.objectContaining({ id: user.id, email: user.email }),
      revoked: false,
      epoch: expect.any(Number),
    });
    await store.grants.revokeAccessToken('jti-subject-dead', new Date(Date.now() + 60_000));
    expect((await store.users.findAccessTokenSubject(user.id, 'jti-subject-dead', familyId)).revoked).toBe(true);
    await store.grants.revokeFamily(familyId, 'test');
    expect((await store.users.findAccessTokenSubject(user.id, 'jti-subject-live', familyId)).revoked).toBe(true);
    expect(await store.users.findAccessTokenSubject('00000000-0000-4000-8000-000000000000', 'jti-x', null)).toMatchObject({ user: null, revoked: false });
    expect(await store.users.findAccessTokenSubject('not-a-uuid', 'jti-x', null)).toMatchObject({ user: null, revoked: true });
  });

  it('deleting a user ends its sessions, consents and grants', async () => {
    const doomed = await store.users.create({ email: 'doomed@example.org', password: 'a long enough password' });
    const session = await store.sessions.create({ userId: doomed.id, ttlSeconds: 600 });
    await store.consents.grant(doomed.id, clientId, ['openid']);
    const input = codeInput({ userId: doomed.id });
    const { familyId } = await store.grants.createAuthorizationCode(input);
    await store.db.query(`delete from identity.users where id = $1`, [doomed.id]);
    expect(await store.sessions.findActive(session.sid)).toBeNull();
    expect(await store.consents.find(doomed.id, clientId)).toEqual([]);
    expect(await store.grants.consumeAuthorizationCode(input.code)).toEqual({ status: 'not_found' });
    expect(await store.grants.isAccessTokenRevoked('jti-doomed', familyId)).toBe(true);
  });
});
