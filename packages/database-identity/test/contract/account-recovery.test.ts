import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, hashPassword, randomToken, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';
const t0 = new Date('2031-03-01T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe.each(driversUnderTest())('account tokens and the mail queue on $name', (driver) => {
  let store: IdentityStore;
  const digest = (token: string) => store.box.digest(token);

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('a reset token is single use, expires by the injected clock and dies with the password it was made for', async () => {
    const user = await store.users.create({ email: 'Reset.Me@example.org', password: 'old-password-value' });
    const token = randomToken();
    expect(await store.accountTokens.issue({ tokenDigest: digest(token), userId: user.id, purpose: 'password_reset', ttlSeconds: 900, now: t0 })).toEqual({
      expiresAt: at(900),
    });
    // the raw token is nowhere in the table
    expect(JSON.stringify(await store.db.query('select * from identity.account_tokens'))).not.toContain(token);
    expect(await store.accountTokens.check(digest(token), 'password_reset', at(899))).toMatchObject({
      status: 'valid',
      userId: user.id,
      email: 'Reset.Me@example.org',
    });
    expect(await store.accountTokens.check(digest(token), 'password_reset', at(900))).toEqual({ status: 'expired' });
    expect(await store.accountTokens.check(digest(token), 'email_verification', at(1))).toEqual({ status: 'unknown' });

    const newHash = await hashPassword('new-password-value');
    expect(await store.accountTokens.consumePasswordReset(digest(token), newHash, at(10))).toEqual({ status: 'reset', userId: user.id });
    expect((await store.users.findByEmailForLogin('reset.me@example.org'))?.passwordHash).toBe(newHash);
    // single use
    expect(await store.accountTokens.consumePasswordReset(digest(token), newHash, at(11))).toEqual({ status: 'unknown' });

    // expired: consumed (gone), the password unchanged
    const late = randomToken();
    await store.accountTokens.issue({ tokenDigest: digest(late), userId: user.id, purpose: 'password_reset', ttlSeconds: 60, now: t0 });
    expect(await store.accountTokens.consumePasswordReset(digest(late), await hashPassword('x'), at(61))).toEqual({ status: 'expired' });
    expect(await store.accountTokens.check(digest(late), 'password_reset', at(1))).toEqual({ status: 'unknown' });
    expect((await store.users.findByEmailForLogin('reset.me@example.org'))?.passwordHash).toBe(newHash);

    // bound to the password hash: a change made after the link was issued kills the link
    const bound = randomToken();
    await store.accountTokens.issue({ tokenDigest: digest(bound), userId: user.id, purpose: 'password_reset', ttlSeconds: 900, now: t0 });
    await store.users.setPassword(user.id, 'changed-meanwhile-value');
    expect(await store.accountTokens.check(digest(bound), 'password_reset', at(1))).toEqual({ status: 'stale' });
    const changed = (await store.users.findByEmailForLogin('reset.me@example.org'))!.passwordHash;
    expect(await store.accountTokens.consumePasswordReset(digest(bound), newHash, at(1))).toEqual({ status: 'stale' });
    expect((await store.users.findByEmailForLogin('reset.me@example.org'))?.passwordHash).toBe(changed);
  });

  it('only the newest link of a user works, and a reset drops every other reset link', async () => {
    const user = await store.users.create({ email: 'many.links@example.org', password: 'many-links-password' });
    const [a, b] = [randomToken(), randomToken()];
    await store.accountTokens.issue({ tokenDigest: digest(a), userId: user.id, purpose: 'password_reset', ttlSeconds: 900, now: t0 });
    await store.accountTokens.issue({ tokenDigest: digest(b), userId: user.id, purpose: 'password_reset', ttlSeconds: 900, now: t0 });
    expect((await store.accountTokens.check(digest(a), 'password_reset', at(1))).status).toBe('unknown');
    expect(
      await store.accountTokens.issue({
        tokenDigest: digest(randomToken()),
        userId: '00000000-0000-4000-8000-000000000000',
        purpose: 'password_reset',
        ttlSeconds: 900,
        now: t0,
      }),
    ).toBeNull();
    expect(await store.accountTokens.purgeExpired(at(899))).toBe(0);
    expect(await store.accountTokens.purgeExpired(at(900))).toBeGreaterThanOrEqual(1);
  });

  it('a verification token marks the address verified once, and dies when the address changes', async () => {
    const user = await store.users.create({ email: 'verify.me@example.org', password: 'verify-me-password' });
    const token = randomToken();
    await store.accountTokens.issue({ tokenDigest: digest(token), userId: user.id, purpose: 'email_verification', ttlSeconds: 3600, now: t0 });
    expect(await store.accountTokens.consumeEmailVerification(digest(token), at(3600))).toEqual({ status: 'expired' });
    expect((await store.users.findById(user.id))?.emailVerified).toBe(false);

    const fresh = randomToken();
    await store.accountTokens.issue({ tokenDigest: digest(fresh), userId: user.id, purpose: 'email_verification', ttlSeconds: 3600, now: t0 });
    expect(await store.accountTokens.consumeEmailVerification(digest(fresh), at(5))).toEqual({
      status: 'verified',
      userId: user.id,
      email: 'verify.me@example.org',
    });
    expect((await store.users.findById(user.id))?.emailVerified).toBe(true);
    expect(await store.accountTokens.consumeEmailVerification(digest(fresh), at(6))).toEqual({ status: 'unknown' });

    const old = randomToken();
    await store.accountTokens.issue({ tokenDigest: digest(old), userId: user.id, purpose: 'email_verification', ttlSeconds: 3600, now: t0 });
    expect((await store.users.changeEmail(user.id, 'verify.new@example.org'))?.emailVerified).toBe(false);
    expect(await store.accountTokens.consumeEmailVerification(digest(old), at(5))).toEqual({ status: 'stale' });
    expect((await store.users.findById(user.id))?.emailVerified).toBe(false);
    expect(await store.users.setEmailVerified(user.id, true)).toBe(true);
    expect(await store.users.setEmailVerified(user.id, true)).toBe(false);
  });

  it('mail is stored sealed, claimed once per lease, retried, and dropped when done', async () => {
    const message = {
      to: 'rcpt@example.org',
      subject: 'Reset',
      text: 'https://idp.example/reset?token=secret-link-token',
      html: '<a href="https://idp.example/reset?token=secret-link-token">x</a>',
    };
    const id = await store.mailQueue.enqueue({ template: 'password_reset', userId: null, message, now: t0 });
    const raw = JSON.stringify(await store.db.query('select * from identity.mail_queue'));
    expect(raw).not.toContain('secret-link-token');
    expect(raw).not.toContain('rcpt@example.org');

    expect(await store.mailQueue.claimDue(at(-1), 10, 60)).toEqual([]);
    const [claimed] = await store.mailQueue.claimDue(at(0), 10, 60);
    expect(claimed).toEqual({ id, template: 'password_reset', userId: null, attempts: 1, message });
    // leased: not claimed again until the lease ends
    expect(await store.mailQueue.claimDue(at(30), 10, 60)).toEqual([]);
    await store.mailQueue.markFailed(id, 'ECONNREFUSED', at(120));
    expect(await store.mailQueue.claimDue(at(119), 10, 60)).toEqual([]);
    const [again] = await store.mailQueue.claimDue(at(120), 10, 60);
    expect(again.attempts).toBe(2);
    await store.mailQueue.markSent(id, at(121));
    expect(await store.mailQueue.counts()).toMatchObject({ queued: 0, sent: 1 });
    const [row] = await store.db.query<{ message_encrypted: string | null; status: string }>(
      'select message_encrypted, status from identity.mail_queue where id = $1',
      [id],
    );
    expect(row).toEqual({ message_encrypted: null, status: 'sent' });

    const doomed = await store.mailQueue.enqueue({ template: 'email_verification', userId: null, message, now: t0 });
    await store.mailQueue.claimDue(at(0), 10, 60);
    await store.mailQueue.markFailed(doomed, 'EAUTH', null);
    expect(await store.mailQueue.counts()).toMatchObject({ queued: 0, sent: 1, failed: 1 });
    expect(await store.mailQueue.purgeFinished(3600, at(3599))).toBe(0);
    expect(await store.mailQueue.purgeFinished(3600, at(3601))).toBe(2);
  });
});
