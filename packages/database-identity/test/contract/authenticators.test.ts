import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('passkeys, TOTP, recovery codes and challenges on $name', (driver) => {
  let store: IdentityStore;
  const newUser = () => store.users.create({ email: `a-${randomBytes(4).toString('hex')}@example.org`, password: 'contract-password-1' });

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('stores passkeys per user, one owner per credential id; rename and removal only by the owner', async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const input = {
      userId: alice.id,
      credentialId: randomBytes(32).toString('base64url'),
      publicKey: new Uint8Array(randomBytes(77)),
      signCount: 0,
      transports: ['internal'],
      deviceType: 'singleDevice' as const,
      backedUp: false,
      name: 'Laptop',
    };
    const stored = await store.authenticators.addPasskey(input);
    expect(stored).toMatchObject({ userId: alice.id, name: 'Laptop', signCount: 0, transports: ['internal'] });
    expect(Buffer.from(stored!.publicKey).equals(Buffer.from(input.publicKey))).toBe(true);
    expect(await store.authenticators.addPasskey({ ...input, userId: bob.id })).toBeNull();
    expect((await store.authenticators.findPasskeyByCredentialId(input.credentialId))?.id).toBe(stored!.id);
    await store.authenticators.recordPasskeyUse(stored!.id, 7, false, new Date());
    expect((await store.authenticators.listPasskeys(alice.id))[0]).toMatchObject({ signCount: 7, lastUsedAt: expect.any(Date) });
    expect(await store.authenticators.renamePasskey(bob.id, stored!.id, 'Mine now')).toBe(false);
    expect(await store.authenticators.renamePasskey(alice.id, stored!.id, 'Work laptop')).toBe(true);
    expect(await store.authenticators.removePasskey(alice.id, 'not-a-uuid')).toBe(false);
    expect(await store.authenticators.secondFactors(alice.id)).toMatchObject({ passkeys: 1, totp: false, recoveryCodesLeft: 0 });
    expect(await store.authenticators.removePasskey(bob.id, stored!.id)).toBe(false);
    expect(await store.authenticators.removePasskey(alice.id, stored!.id)).toBe(true);
  });

  it('a challenge is redeemed once, by its browser, for its purpose, while live', async () => {
    const user = await newUser();
    const now = new Date();
    await store.authenticators.saveChallenge({ challenge: 'c1', purpose: 'register', userId: user.id, binding: 'browser-a', ttlSeconds: 300, now });
    expect(await store.authenticators.consumeChallenge('c1', 'register', 'browser-a', now)).toEqual({ userId: user.id });
    expect(await store.authenticators.consumeChallenge('c1', 'register', 'browser-a', now)).toBeUndefined();
    await store.authenticators.saveChallenge({ challenge: 'c2', purpose: 'passwordless', userId: null, binding: 'browser-a', ttlSeconds: 300, now });
    // another browser burns it without using it
    expect(await store.authenticators.consumeChallenge('c2', 'passwordless', 'browser-b', now)).toBeUndefined();
    expect(await store.authenticators.consumeChallenge('c2', 'passwordless', 'browser-a', now)).toBeUndefined();
    await store.authenticators.saveChallenge({ challenge: 'c3', purpose: 'passwordless', userId: null, binding: 'b', ttlSeconds: 300, now });
    expect(await store.authenticators.consumeChallenge('c3', 'second_factor', 'b', now)).toBeUndefined();
    await store.authenticators.saveChallenge({ challenge: 'c4', purpose: 'passwordless', userId: null, binding: 'b', ttlSeconds: 300, now });
    expect(await store.authenticators.consumeChallenge('c4', 'passwordless', 'b', new Date(now.getTime() + 301_000))).toBeUndefined();
    await store.authenticators.saveChallenge({ challenge: 'c5', purpose: 'passwordless', userId: null, binding: 'b', ttlSeconds: 1, now });
    expect(await store.authenticators.purgeExpired(new Date(now.getTime() + 2000))).toBeGreaterThanOrEqual(1);
    const raw = JSON.stringify(await store.db.query('select * from identity.webauthn_challenges'));
    expect(raw).not.toContain('browser-a');
  });

  it('TOTP: encrypted at rest, confirmed once, each step accepted once and never an older one', async () => {
    const user = await newUser();
    const now = new Date();
    expect(await store.authenticators.beginTotp(user.id, 'JBSWY3DPEHPK3PXP')).toBe(true);
    expect(await store.authenticators.acceptTotpStep(user.id, 100, { confirm: false, now })).toBe(false);
    expect(await store.authenticators.acceptTotpStep(user.id, 100, { confirm: true, now })).toBe(true);
    expect(await store.authenticators.beginTotp(user.id, 'OTHERSECRETXXXXX')).toBe(false);
    expect(await store.authenticators.totpOf(user.id)).toEqual({ secret: 'JBSWY3DPEHPK3PXP', confirmed: true, lastUsedStep: 100 });
    expect(await store.authenticators.acceptTotpStep(user.id, 100, { confirm: false, now })).toBe(false);
    expect(await store.authenticators.acceptTotpStep(user.id, 99, { confirm: false, now })).toBe(false);
    const racing = await Promise.all([101, 101, 101].map((step) => store.authenticators.acceptTotpStep(user.id, step, { confirm: false, now })));
    expect(racing.filter(Boolean)).toHaveLength(1);
    const [row] = await store.db.query<{ secret_encrypted: string }>('select secret_encrypted from identity.totp_authenticators where user_id = $1', [user.id]);
    expect(row.secret_encrypted).not.toContain('JBSWY3DPEHPK3PXP');
    expect(await store.authenticators.removeTotp(user.id)).toBe(true);
  });

  it('recovery codes: digests only, each spent once, a new set replaces the old', async () => {
    const user = await newUser();
    await store.authenticators.replaceRecoveryCodes(user.id, ['aaaaabbbbb', 'cccccddddd']);
    expect(await store.authenticators.useRecoveryCode(user.id, 'aaaaabbbbb', new Date())).toBe(true);
    expect(await store.authenticators.useRecoveryCode(user.id, 'aaaaabbbbb', new Date())).toBe(false);
    expect((await store.authenticators.secondFactors(user.id)).recoveryCodesLeft).toBe(1);
    expect(JSON.stringify(await store.db.query('select * from identity.recovery_codes'))).not.toContain('cccccddddd');
    await store.authenticators.replaceRecoveryCodes(user.id, ['eeeeefffff']);
    expect(await store.authenticators.useRecoveryCode(user.id, 'cccccddddd', new Date())).toBe(false);
    expect((await store.authenticators.secondFactors(user.id)).recoveryCodesLeft).toBe(1);
  });

  it('the enrolment clock starts once; the client flag; amr/acr on sessions and codes', async () => {
    const user = await newUser();
    const first = await store.authenticators.requestEnrolment(user.id, new Date('2031-01-01T00:00:00Z'));
    expect(await store.authenticators.requestEnrolment(user.id, new Date('2031-02-01T00:00:00Z'))).toEqual(first);
    const { client } = await store.clients.create({ name: 'flagged', redirectUris: ['https://rp.example/cb'] });
    expect(await store.authenticators.clientRequiresMfa(client.clientId)).toBe(false);
    await store.authenticators.setClientRequiresMfa(client.clientId, true);
    expect(await store.authenticators.clientRequiresMfa(client.clientId)).toBe(true);

    const session = await store.sessions.create({ userId: user.id, ttlSeconds: 60, amr: ['pwd', 'otp', 'mfa'], acr: 'urn:idp:acr:mfa' });
    expect(await store.sessions.findActive(session.sid)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: 'urn:idp:acr:mfa' });
    expect((await store.sessions.create({ userId: user.id, ttlSeconds: 60 })).acr).toBe('urn:idp:acr:pwd');
    const code = randomBytes(32).toString('base64url');
    await store.grants.createAuthorizationCode({
      code,
      clientId: client.clientId,
      userId: user.id,
      sid: session.sid,
      redirectUri: 'https://rp.example/cb',
      scope: ['openid'],
      nonce: null,
      codeChallenge: null,
      codeChallengeMethod: null,
      authTime: new Date(),
      ttlSeconds: 60,
      authentication: { amr: ['pwd', 'otp', 'mfa'], acr: 'urn:idp:acr:mfa', idTokenClaims: ['email'] },
    });
    const consumed = await store.grants.consumeAuthorizationCode(code);
    expect(consumed.status === 'ok' && consumed.grant.authentication).toEqual({ amr: ['pwd', 'otp', 'mfa'], acr: 'urn:idp:acr:mfa', idTokenClaims: ['email'] });
    const plain = randomBytes(32).toString('base64url');
    await store.grants.createAuthorizationCode({
      code: plain,
      clientId: client.clientId,
      userId: user.id,
      sid: null,
      redirectUri: 'https://rp.example/cb',
      scope: ['openid'],
      nonce: null,
      codeChallenge: null,
      codeChallengeMethod: null,
      authTime: new Date(),
      ttlSeconds: 60,
    });
    const without = await store.grants.consumeAuthorizationCode(plain);
    expect(without.status === 'ok' && without.grant.authentication).toBeNull();
  });
});
