import { randomBytes } from 'node:crypto';
import { verifyPassword } from '../crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendEmailVerification } from '../../recovery/account-recovery';
import { newTotpSecret, TOTP_PERIOD_SECONDS, totpCode } from '../second-factor';
import { readBrowserSession, sessionCookie } from '../session';
import { testProvider } from '../test-provider';
import { forgotPasswordAction, resetLinkEndpoint, resetPasswordAction, verifyEmailAction, verifyLinkEndpoint } from './recovery';

type TestProvider = Awaited<ReturnType<typeof testProvider>>;

/** A browser over the endpoint functions: a cookie jar and its CSRF token. */
class Browser {
  cookie = '';
  constructor(readonly t: TestProvider) {}
  async start(): Promise<this> {
    this.cookie = (await sessionCookie({ csrf: randomBytes(24).toString('base64url'), interactions: {} }, this.t.provider.settings)).split(';')[0];
    return this;
  }
  keep(response: Response): Response {
    const set = response.headers.getSetCookie().find((line) => line.startsWith('idp_session=') || line.startsWith('__Host-idp_session='));
    if (set) this.cookie = set.split(';')[0];
    return response;
  }
  async csrf(): Promise<string> {
    return (await readBrowserSession(new Request('https://id.example/', { headers: { cookie: this.cookie } }), this.t.provider.settings)).csrf;
  }
  get(url: string): Request {
    return new Request(url, { headers: { cookie: this.cookie } });
  }
  async post(path: string, form: Record<string, string>): Promise<Request> {
    return new Request(`https://id.example${path}`, {
      method: 'POST',
      headers: { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: await this.csrf(), ...form }),
    });
  }
}

const linkIn = (text: string) => /https:\/\/id\.example\S+/.exec(text)![0];

describe('password reset and e-mail verification forms', () => {
  let t: TestProvider;
  beforeAll(async () => {
    t = await testProvider();
  });
  afterAll(() => t?.close());

  it('answers an existing and an unknown address identically; only the existing one gets a mail', async () => {
    await t.store.users.create({ email: 'same.answer@example.org', password: 'an-old-password-value' });
    const browser = await new Browser(t).start();
    const answers = [];
    for (const email of ['same.answer@example.org', 'nobody.here@example.org']) {
      const response = await forgotPasswordAction(await browser.post('/interaction/forgot-password', { email }), t.ctx, t.provider);
      answers.push({ status: response.status, headers: [...response.headers], body: await response.text() });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0].status).toBe(303);
    expect(t.mails.map((m) => m.message.to)).toEqual(['same.answer@example.org']);
    const requested = t.events.filter((e) => e.action === 'auth.password_reset_requested');
    expect(requested.map((e) => e.details?.reason ?? 'sent')).toEqual(['sent', 'unknown_account']);
    expect(JSON.stringify(t.events)).not.toContain('example.org');
  });

  it('limits requests per address, known or not (4th is a 429)', async () => {
    const browser = await new Browser(t).start();
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await forgotPasswordAction(await browser.post('/interaction/forgot-password', { email: 'limited@example.org' }), t.ctx, t.provider)).status,
      );
    expect(statuses).toEqual([303, 303, 303, 429]);
  });

  it('a user with an authenticator app must also give a code; a wrong or missing one does not burn the link', async () => {
    const user = await t.store.users.create({ email: 'reset.mfa@example.org', password: 'reset-mfa-old-password' });
    const secret = newTotpSecret();
    await t.store.authenticators.beginTotp(user.id, secret);
    expect(
      await t.store.authenticators.acceptTotpStep(user.id, Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS) - 5, { confirm: true, now: new Date() }),
    ).toBe(true);
    const browser = await new Browser(t).start();
    await forgotPasswordAction(await browser.post('/interaction/forgot-password', { email: 'reset.mfa@example.org' }), t.ctx, t.provider);
    browser.keep(await resetLinkEndpoint(browser.get(linkIn(t.mails.at(-1)!.message.text)), t.ctx, t.provider));
    const strong = 'quartz meadow lantern voyage';
    for (const second_factor of [undefined, '000000']) {
      const refused = await resetPasswordAction(
        await browser.post('/interaction/reset-password', { new_password: strong, confirm_password: strong, ...(second_factor ? { second_factor } : {}) }),
        t.ctx,
        t.provider,
      );
      expect(refused.headers.get('location')).toBe('/reset-password?error=second_factor');
    }
    expect(await verifyPassword(strong, (await t.store.users.findByEmailForLogin('reset.mfa@example.org'))!.passwordHash)).toBe(false);
    const done = await resetPasswordAction(
      await browser.post('/interaction/reset-password', { new_password: strong, confirm_password: strong, second_factor: totpCode(secret, Date.now()) }),
      t.ctx,
      t.provider,
    );
    expect(done.headers.get('location')).toBe('/reset-password?done=1');
    expect(await verifyPassword(strong, (await t.store.users.findByEmailForLogin('reset.mfa@example.org'))!.passwordHash)).toBe(true);
    expect(t.events.filter((e) => e.action === 'auth.mfa_failed' && e.userId === user.id)).toHaveLength(1);
  });

  it('a link sets a new password once, refuses weak ones without burning the link, and ends every session', async () => {
    const user = await t.store.users.create({ email: 'Reset.Flow@example.org', password: 'reset-flow-old-password', name: 'Reset Flow' });
    const other = await t.store.sessions.create({ userId: user.id, ttlSeconds: 600 });
    const browser = await new Browser(t).start();
    await forgotPasswordAction(await browser.post('/interaction/forgot-password', { email: 'reset.flow@example.org' }), t.ctx, t.provider);
    const mail = t.mails.at(-1)!;
    expect(mail).toMatchObject({ template: 'password_reset', userId: user.id, message: { to: 'Reset.Flow@example.org', subject: 'Reset your password' } });
    const link = linkIn(mail.message.text);
    expect(mail.message.html).toContain(link.replace(/&/g, '&amp;'));

    const landed = browser.keep(await resetLinkEndpoint(browser.get(link), t.ctx, t.provider));
    expect(landed.headers.get('location')).toBe('/reset-password');
    expect(landed.headers.get('referrer-policy')).toBe('no-referrer');

    const weak = await resetPasswordAction(
      await browser.post('/interaction/reset-password', { new_password: 'resetflow', confirm_password: 'resetflow' }),
      t.ctx,
      t.provider,
    );
    expect(weak.headers.get('location')).toBe('/reset-password?error=weak');
    const mismatch = await resetPasswordAction(
      await browser.post('/interaction/reset-password', { new_password: 'a', confirm_password: 'b' }),
      t.ctx,
      t.provider,
    );
    expect(mismatch.headers.get('location')).toBe('/reset-password?error=mismatch');

    const strong = 'lantern orchard gravel symphony';
    const done = browser.keep(
      await resetPasswordAction(await browser.post('/interaction/reset-password', { new_password: strong, confirm_password: strong }), t.ctx, t.provider),
    );
    expect(done.headers.get('location')).toBe('/reset-password?done=1');
    expect(await verifyPassword(strong, (await t.store.users.findByEmailForLogin('reset.flow@example.org'))!.passwordHash)).toBe(true);
    expect(await t.store.sessions.findActive(other.sid)).toBeNull();
    expect(t.events.find((e) => e.action === 'auth.password_reset_completed' && e.userId === user.id)).toMatchObject({
      userId: user.id,
      details: { sessions_ended: 1, refresh_tokens_revoked: 0 },
    });

    // the same link again: refused, audited, the password unchanged
    const again = browser.keep(await resetLinkEndpoint(browser.get(link), t.ctx, t.provider));
    expect(again.status).toBe(303);
    const reused = await resetPasswordAction(
      await browser.post('/interaction/reset-password', { new_password: 'another fine passphrase', confirm_password: 'another fine passphrase' }),
      t.ctx,
      t.provider,
    );
    expect(reused.headers.get('location')).toBe('/reset-password?error=invalid_link');
    expect(t.events.filter((e) => e.action === 'auth.password_reset_failed').at(-1)).toMatchObject({ details: { reason: 'unknown' } });
    expect(JSON.stringify(t.events)).not.toContain(new URL(link).searchParams.get('token'));
  });

  it('a malformed or missing token is refused before any lookup', async () => {
    const browser = await new Browser(t).start();
    for (const token of ['', 'short', 'x'.repeat(43) + '\r\n', '../../etc']) {
      const response = await resetLinkEndpoint(browser.get(`https://id.example/interaction/reset-link?token=${encodeURIComponent(token)}`), t.ctx, t.provider);
      expect(response.headers.get('location')).toBe('/reset-password?error=invalid_link');
    }
    const none = await resetPasswordAction(await browser.post('/interaction/reset-password', { new_password: 'x', confirm_password: 'x' }), t.ctx, t.provider);
    expect(none.headers.get('location')).toBe('/reset-password?error=invalid_link');
  });

  it('a verification link, confirmed by a POST, marks the address verified', async () => {
    const user = await t.store.users.create({ email: 'verify.flow@example.org', password: 'verify-flow-password' });
    expect(await sendEmailVerification(t.provider, user.id, { by: 'admin' })).toBe(true);
    const mail = t.mails.at(-1)!;
    expect(mail).toMatchObject({ template: 'email_verification', userId: user.id });
    const browser = await new Browser(t).start();
    browser.keep(await verifyLinkEndpoint(browser.get(linkIn(mail.message.text)), t.ctx, t.provider));
    expect((await t.store.users.findById(user.id))?.emailVerified).toBe(false); // the GET alone verifies nothing
    const done = await verifyEmailAction(await browser.post('/interaction/verify-email', {}), t.ctx, t.provider);
    expect(done.headers.get('location')).toBe('/verify-email?done=1');
    expect((await t.store.users.findById(user.id))?.emailVerified).toBe(true);
    expect(t.events.filter((e) => e.action === 'auth.email_verification_sent' || e.action === 'auth.email_verified').map((e) => [e.action, e.userId])).toEqual([
      ['auth.email_verification_sent', user.id],
      ['auth.email_verified', user.id],
    ]);
    expect(await sendEmailVerification(t.provider, user.id)).toBe(false); // verified: nothing to send
  });
});
