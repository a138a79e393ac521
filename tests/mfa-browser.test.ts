import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requestTo, screenshot } from './support/browser';
import { startStack, type Stack } from './support/oidc';

/**
 * Passkeys and TOTP in Debian's Chromium (README "Second factors and passkeys"): a CTAP2 virtual
 * authenticator (CDP WebAuthn domain) with resident keys and user verification stands in for a platform
 * authenticator; openid-client plays the relying party and reads amr/acr from the ID token.
 */
const ACR = { pwd: 'urn:idp:acr:pwd', mfa: 'urn:idp:acr:mfa', phr: 'urn:idp:acr:phr' };
const REDIRECT = 'http://127.0.0.1:9/cb';

let browser: Browser;
let stack: Stack;
let config: client.Configuration;

beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startStack();
  const { client: rp } = await stack.store.clients.create({
    name: 'MFA relying party',
    tokenEndpointAuthMethod: 'none',
    redirectUris: [REDIRECT],
    firstParty: true,
  });
  config = await client.discovery(new URL(stack.provider.url), rp.clientId, {}, client.None(), { execute: [client.allowInsecureRequests] });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const totpAt = (secret: string, ms: number) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: ms });

async function newUser() {
  const user = { email: `mfa-${randomBytes(4).toString('hex')}@example.org`, password: `pw-${randomBytes(9).toString('hex')}` };
  const { id } = await stack.store.users.create(user);
  return { ...user, id };
}

/** A browser context with a CTAP2 platform-like authenticator: resident keys, user verification that always succeeds. */
async function contextWithAuthenticator(): Promise<{ context: BrowserContext; page: Page; credentials(): Promise<unknown[]> }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // the virtual authenticator answers a conditional (autofill) request at once, with no one picking the
  // passkey; this switch makes the page see a browser without autofill support, for the other paths
  await context.addInitScript(() => {
    if (localStorage.getItem('test:no-autofill') === '1')
      Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', { value: async () => false });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials };
}

async function passwordSignIn(page: Page, user: { email: string; password: string }) {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByTestId('login-submit').click();
}

/** The relying party's authorization request; resolves with the ID token's claims once the browser comes back. */
async function relyingParty(page: Page, extra: Record<string, string>, steps: () => Promise<unknown>) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  const callback = await requestTo(page, REDIRECT, async () => {
    await page.goto(url.toString());
    await steps();
  });
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  return tokens.claims()!;
}

async function openSecurityPage(page: Page, user: { email: string; password: string }) {
  await page.goto(`${stack.provider.url}/interaction/start?return_to=${encodeURIComponent('/account/security')}`);
  await passwordSignIn(page, user);
  await page.waitForURL(/\/account\/security$/);
}

describe('passkeys and TOTP in a real browser', () => {
  it('registers a passkey, renames it, signs in with it passwordless and as a second factor', async () => {
    const user = await newUser();
    const { context, page, credentials } = await contextWithAuthenticator();
    try {
      await openSecurityPage(page, user);
      expect(await page.getByTestId('mfa-status').textContent()).toContain('off');
      await page.getByLabel('Name of the new passkey').fill('Test laptop');
      await page.getByTestId('passkey-add').click();
      await page.getByTestId('recovery-codes').waitFor();
      await expect.poll(() => page.getByTestId('passkey-name').allTextContents()).toEqual(['Test laptop']);
      expect(await credentials()).toHaveLength(1);
      expect(await page.getByTestId('mfa-status').textContent()).toContain('on');
      await screenshot(page, 'security-passkey');

      await page.getByTestId('passkey-rename').click();
      await page.getByTestId('passkey-rename-input').fill('Work laptop');
      await page.getByTestId('passkey-rename-save').click();
      await expect.poll(() => page.getByTestId('passkey-name').allTextContents()).toEqual(['Work laptop']);

      // passwordless through the email field's autofill (conditional mediation): the login page alone signs in
      await context.clearCookies();
      const autofill = await relyingParty(page, {}, async () => {
        await page.waitForURL(/\/login\?interaction=/);
      });
      expect(autofill).toMatchObject({ sub: user.id, acr: ACR.phr, amr: ['hwk', 'user', 'mfa'] });

      // passwordless with the login page's passkey button, no password typed
      await page.goto(`${stack.provider.url}/api/health`);
      await page.evaluate(() => localStorage.setItem('test:no-autofill', '1'));
      await context.clearCookies();
      const passwordless = await relyingParty(page, {}, async () => {
        await page.waitForURL(/\/login\?interaction=/);
        await screenshot(page, 'login-passkey');
        await page.getByTestId('passkey-signin').click();
      });
      expect(passwordless).toMatchObject({ sub: user.id, acr: ACR.phr });
      expect(passwordless.amr).toEqual(['hwk', 'user', 'mfa']);

      // as the second factor after the password
      await context.clearCookies();
      const twoStep = await relyingParty(page, { prompt: 'login' }, async () => {
        await page.waitForURL(/\/login\?interaction=/);
        await passwordSignIn(page, user);
        await page.waitForURL(/\/mfa\?interaction=/);
        await screenshot(page, 'mfa-step');
        await page.getByTestId('mfa-passkey').click();
      });
      expect(twoStep).toMatchObject({ sub: user.id, acr: ACR.phr });
      expect(twoStep.amr).toEqual(expect.arrayContaining(['pwd', 'hwk', 'mfa']));

      const actions = async () =>
        (await stack.store.db.query<{ action: string }>(`select action from identity.audit_logs where user_id = $1`, [user.id])).map((r) => r.action);
      await expect.poll(actions).toEqual(expect.arrayContaining(['auth.passkey_registered', 'auth.mfa_succeeded', 'auth.mfa_enrolled']));
    } finally {
      await context.close();
    }
  });

  it('enrols TOTP with a QR code, signs in with a code, spends a recovery code once, and steps up to a passkey for acr_values', async () => {
    const user = await newUser();
    const { context, page } = await contextWithAuthenticator();
    try {
      await openSecurityPage(page, user);
      await page.evaluate(() => localStorage.setItem('test:no-autofill', '1'));
      await page.getByTestId('totp-setup').click();
      await page.getByTestId('totp-qr').waitFor();
      const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
      await screenshot(page, 'security-totp');
      await page.getByTestId('totp-code').fill('000000' === totpAt(secret, Date.now()) ? '111111' : '000000');
      await page.getByTestId('totp-confirm').click();
      await page.getByTestId('security-error').waitFor();
      await page.getByTestId('totp-code').fill(totpAt(secret, Date.now()));
      await page.getByTestId('totp-confirm').click();
      await page.getByTestId('totp-status').waitFor();
      const recoveryCodes = await page.getByTestId('recovery-code').allTextContents();
      expect(recoveryCodes).toHaveLength(10);
      // a passkey too (the session counts as having passed the app's code): the step-up below needs one
      await page.getByTestId('passkey-add').click();
      await expect.poll(() => page.getByTestId('passkey-item').count()).toBe(1);

      // password + the app's code; the enrolment spent the current step, so the next one (inside the window)
      await context.clearCookies();
      const withCode = await relyingParty(page, {}, async () => {
        await page.waitForURL(/\/login\?interaction=/);
        await passwordSignIn(page, user);
        await page.waitForURL(/\/mfa\?interaction=/);
        await page.getByLabel(/authenticator app/).fill(totpAt(secret, Date.now() + 30_000));
        await page.getByTestId('mfa-submit').click();
      });
      expect(withCode).toMatchObject({ sub: user.id, acr: ACR.mfa, amr: ['pwd', 'otp', 'mfa'] });

      // step-up: the same session asked for a phishing-resistant sign-in: only a passkey is offered
      const steppedUp = await relyingParty(page, { acr_values: ACR.phr }, async () => {
        await page.waitForURL(/\/mfa\?interaction=/);
        expect(await page.getByTestId('mfa-submit').count()).toBe(0);
        await screenshot(page, 'mfa-step-up');
        await page.getByTestId('mfa-passkey').click();
      });
      expect(steppedUp).toMatchObject({ sub: user.id, acr: ACR.phr });
      expect(steppedUp.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'hwk', 'mfa']));
      expect(steppedUp.auth_time).toBeGreaterThanOrEqual(withCode.auth_time as number);

      // a recovery code works once
      await context.clearCookies();
      const withRecovery = await relyingParty(page, {}, async () => {
        await page.waitForURL(/\/login\?interaction=/);
        await passwordSignIn(page, user);
        await page.waitForURL(/\/mfa\?interaction=/);
        await page.getByLabel(/recovery code/).fill(recoveryCodes[0]);
        await page.getByTestId('mfa-submit').click();
      });
      expect(withRecovery).toMatchObject({ acr: ACR.mfa, amr: ['pwd', 'otp', 'mfa'] });

      await context.clearCookies();
      await page.goto(`${stack.provider.url}/interaction/start?return_to=%2Faccount%2Fsecurity`);
      await passwordSignIn(page, user);
      await page.waitForURL(/\/mfa\?return_to=/);
      await page.getByLabel(/recovery code/).fill(recoveryCodes[0]);
      await page.getByTestId('mfa-submit').click();
      await page.waitForURL(/error=invalid_code/);
      expect(await page.getByTestId('mfa-error').textContent()).toContain('not valid');
      await page.getByLabel(/recovery code/).fill(recoveryCodes[1]);
      await page.getByTestId('mfa-submit').click();
      await page.waitForURL(/\/account\/security$/);
      expect(await page.getByTestId('recovery-left').textContent()).toContain('8 unused');

      const actions = async () =>
        (await stack.store.db.query<{ action: string }>(`select action from identity.audit_logs where user_id = $1`, [user.id])).map((r) => r.action);
      await expect
        .poll(actions)
        .toEqual(expect.arrayContaining(['auth.mfa_enrolled', 'auth.mfa_failed', 'auth.mfa_succeeded', 'auth.recovery_code_used', 'auth.passkey_registered']));
    } finally {
      await context.close();
    }
  });
});
