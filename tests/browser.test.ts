import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityStore } from '../packages/database-identity/src';
import { freshDatabase, launchBrowser, pkce, requestTo, screenshot } from './support/browser';
import { freePort, startProvider } from './support/server';

const ADMIN_EMAIL = 'admin@localhost.localdomain';
const GENERIC_LOGIN_ERROR = 'Email or password is incorrect, or the account is temporarily locked.';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function submit(page: Page, testId: string, urlPattern: RegExp): Promise<void> {
  await Promise.all([page.waitForURL(urlPattern), page.getByTestId(testId).click()]);
}

describe('end-user pages in a real browser', () => {
  it('demo relying party: login (generic error), forced password change, verified ID token, userinfo, refresh, logout', async () => {
    const provider = await startProvider();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    let sub: string;
    let newPassword: string;
    try {
      const adminPassword = /password: (\S+)/.exec(provider.output())?.[1];
      expect(adminPassword, 'first start prints the admin password').toBeTruthy();
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      // the pages run under a nonce-based Content-Security-Policy: nothing of ours may be refused by it
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) problems.push(`csp: ${message.text()}`);
      });
      page.on('response', (response) => {
        if (
          new URL(response.url()).pathname === '/login' &&
          !/script-src 'self' 'nonce-[\w+/=]+' 'strict-dynamic'/.test(response.headers()['content-security-policy'] ?? '')
        ) {
          problems.push(`no nonce-based CSP on ${response.url()}`);
        }
      });

      // the relying party sends the browser to the provider, which asks for a login
      await page.goto(`${provider.url}/demo`);
      await submit(page, 'demo-signin', /\/login\?interaction=[\w-]+$/);
      await expect.poll(() => page.getByTestId('client-name').textContent()).toBe('Demo relying party');
      expect(await page.getByLabel('Email').getAttribute('autocomplete')).toBe('username webauthn');
      expect(await page.getByLabel('Password').getAttribute('autocomplete')).toBe('current-password');
      await screenshot(page, 'login');

      // wrong password: one generic message
      await page.getByLabel('Email').fill(ADMIN_EMAIL);
      await page.getByLabel('Password').fill('not-the-password');
      await submit(page, 'login-submit', /error=invalid_credentials/);
      const alert = page.getByTestId('login-error');
      expect(await alert.getAttribute('role')).toBe('alert');
      expect((await alert.textContent())?.trim()).toBe(GENERIC_LOGIN_ERROR);
      await screenshot(page, 'login-error');

      // right password: the first administrator must choose a new one first
      await page.getByLabel('Email').fill(ADMIN_EMAIL);
      await page.getByLabel('Password').fill(adminPassword!);
      await submit(page, 'login-submit', /\/password\?interaction=[\w-]+$/);
      expect(await page.getByTestId('password-user').textContent()).toBe(ADMIN_EMAIL);
      await screenshot(page, 'password-change');

      newPassword = `blue-${randomBytes(8).toString('hex')}-harbour`;
      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByLabel('Confirm new password').fill(`${newPassword}x`);
      await submit(page, 'password-submit', /error=mismatch/);
      expect(await page.getByTestId('password-error').textContent()).toContain('do not match');

      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByLabel('Confirm new password').fill(newPassword);
      // demo-spa is first-party: no consent page, straight back to the relying party
      await submit(page, 'password-submit', /\/demo\/callback/);
      const claimsBox = page.getByTestId('demo-id-token-claims');
      await claimsBox.waitFor();
      const claims = JSON.parse((await claimsBox.textContent())!);
      const header = JSON.parse((await page.getByTestId('demo-id-token-header').textContent())!);
      expect(claims).toMatchObject({ iss: provider.url, aud: 'demo-spa' });
      expect(typeof claims.nonce).toBe('string');
      expect(header.alg).toMatch(/^(RS256|ES256)$/);
      sub = claims.sub;
      expect(sub).toBeTruthy();
      expect(await page.getByTestId('demo-verified').textContent()).toContain('verified');
      await page.getByTestId('demo-userinfo').waitFor();
      const userinfo = JSON.parse((await page.getByTestId('demo-userinfo').textContent())!);
      expect(userinfo).toMatchObject({ sub, email: ADMIN_EMAIL, email_verified: false });
      expect(await page.getByTestId('demo-userinfo-email').textContent()).toBe(ADMIN_EMAIL);
      expect(page.url()).toBe(`${provider.url}/demo/callback`); // the spent code is out of the address bar
      await screenshot(page, 'demo-result');

      // refresh: new access token, rotated refresh token
      const accessBefore = await page.getByTestId('demo-access-token').textContent();
      const refreshBefore = await page.getByTestId('demo-refresh-token').textContent();
      await page.getByTestId('demo-refresh').click();
      await page.getByTestId('demo-refresh-result').waitFor();
      expect(await page.getByTestId('demo-refresh-changed').textContent()).toBe('yes');
      expect(await page.getByTestId('demo-access-token').textContent()).not.toBe(accessBefore);
      expect(await page.getByTestId('demo-refresh-token').textContent()).not.toBe(refreshBefore);
      expect(Number(await page.getByTestId('demo-access-expiry').getAttribute('data-expires-at'))).toBeGreaterThan(Date.now());
      await page.getByTestId('demo-userinfo').waitFor(); // fetched again with the new access token
      await screenshot(page, 'demo-refreshed');

      // RP-initiated logout with id_token_hint: ends at once, back on /demo with our state
      await page.getByTestId('demo-logout').click();
      await page.getByTestId('demo-signed-out').waitFor();
      expect(new URL(page.url()).pathname).toBe('/demo');
      expect(await page.getByTestId('demo-error').count()).toBe(0);

      // a new sign-in asks for a login again
      await submit(page, 'demo-signin', /\/login\?interaction=[\w-]+$/);
      await page.setViewportSize({ width: 375, height: 740 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await screenshot(page, 'login-phone');

      // an unknown or expired interaction gets a friendly page, not an error
      for (const path of ['/login?interaction=AAAAAAAAAAAAAAAA', '/consent?interaction=__proto__', '/login?interaction=__defineGetter__', '/login']) {
        const response = await page.goto(`${provider.url}${path}`);
        expect(response?.status(), path).toBe(200);
        expect(await page.getByRole('heading', { level: 1 }).textContent(), path).toBe('This sign-in request has expired');
      }

      // the provider's own logout page, not signed in
      await page.goto(`${provider.url}/logout`);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You are not signed in.');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      expect(await provider.stop()).toBe(0);
    }

    // the subject in the ID token is the administrator's id, and the new password is stored
    const secrets = JSON.parse(readFileSync(join(provider.dataDir, 'secrets.json'), 'utf8'));
    const store = await openIdentityStore({ dataDir: join(provider.dataDir, 'pglite'), keyEncryptionSecret: secrets.KEY_ENCRYPTION_SECRET });
    try {
      const admin = await store.users.findByEmailForLogin(ADMIN_EMAIL);
      expect(admin?.id).toBe(sub);
      expect(admin?.mustChangePassword).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('third-party client: consent page in plain words, allow returns code+state+iss, deny returns access_denied', async () => {
    const database = await freshDatabase();
    const keyEncryptionSecret = randomBytes(48).toString('hex');
    const sessionSecret = randomBytes(48).toString('hex');
    const redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
    const email = `ada-${randomBytes(4).toString('hex')}@example.org`;
    const password = `analytical-${randomBytes(6).toString('hex')}-engine`;
    const clientId = 'photo-printer';

    try {
      const store = await openIdentityStore({ databaseUrl: database.url, keyEncryptionSecret });
      let userId: string;
      try {
        userId = (await store.users.create({ email, password, name: 'Ada Lovelace', emailVerified: true })).id;
        await store.clients.create({
          clientId,
          name: 'Photo Printer',
          tokenEndpointAuthMethod: 'none',
          redirectUris: [redirectUri],
          grantTypes: ['authorization_code', 'refresh_token'],
          scopes: ['openid', 'profile', 'email', 'offline_access'],
          firstParty: false,
        });
      } finally {
        await store.close();
      }

      const provider = await startProvider({ DATABASE_URL: database.url, KEY_ENCRYPTION_SECRET: keyEncryptionSecret, SESSION_SECRET: sessionSecret });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        const cspViolations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
        });
        const authorize = (state: string, challenge: string, extra: Record<string, string> = {}) =>
          `${provider.url}/oidc/authorize?${new URLSearchParams({
            response_type: 'code',
            client_id: clientId,
            redirect_uri: redirectUri,
            scope: 'openid profile email offline_access',
            code_challenge: challenge,
            code_challenge_method: 'S256',
            state,
            nonce: randomBytes(8).toString('hex'),
            ...extra,
          })}`;

        // allow
        const first = pkce();
        await page.goto(authorize('state-allow', first.challenge));
        expect(page.url()).toMatch(/\/login\?interaction=/);
        expect(await page.getByTestId('client-name').textContent()).toBe('Photo Printer');
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(password);
        await submit(page, 'login-submit', /\/consent\?interaction=[\w-]+$/);
        expect(await page.getByTestId('consent-user').textContent()).toBe(email);
        const scopes = await page.getByTestId('consent-scopes').locator('li').allTextContents();
        expect(scopes).toEqual([
          'Confirm who you are',
          'Your name and profile details',
          'Your email address',
          "Stay signed in to Photo Printer when you're not using it",
        ]);
        await screenshot(page, 'consent');
        const allowed = await requestTo(page, redirectUri, () => page.getByTestId('consent-allow').click());
        expect(allowed.searchParams.get('code')).toBeTruthy();
        expect(allowed.searchParams.get('state')).toBe('state-allow');
        expect(allowed.searchParams.get('iss')).toBe(provider.url);
        expect(allowed.searchParams.get('error')).toBeNull();

        // the code is good: redeem it as the client would
        const tokenResponse = await fetch(`${provider.url}/oidc/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: allowed.searchParams.get('code')!,
            redirect_uri: redirectUri,
            client_id: clientId,
            code_verifier: first.verifier,
          }),
        });
        expect(tokenResponse.status).toBe(200);
        const tokens = await tokenResponse.json();
        expect(decodeJwt(tokens.id_token)).toMatchObject({ sub: userId, aud: clientId, iss: provider.url });
        expect(tokens.refresh_token).toBeTruthy();

        // consent is remembered: a new request goes straight back with a code
        const again = await requestTo(page, redirectUri, () => page.goto(authorize('state-again', pkce().challenge)).catch(() => null));
        expect(again.searchParams.get('code')).toBeTruthy();
        expect(again.searchParams.get('state')).toBe('state-again');

        // deny (prompt=consent asks again even though consent was given)
        await page.goto(authorize('state-deny', pkce().challenge, { prompt: 'consent' }));
        expect(page.url()).toMatch(/\/consent\?interaction=/);
        const denied = await requestTo(page, redirectUri, () => page.getByTestId('consent-deny').click());
        expect(denied.searchParams.get('error')).toBe('access_denied');
        expect(denied.searchParams.get('state')).toBe('state-deny');
        expect(denied.searchParams.get('iss')).toBe(provider.url);
        expect(denied.searchParams.get('code')).toBeNull();

        // logout page: signed in, confirm, signed out
        await page.goto(`${provider.url}/logout`);
        expect(await page.getByTestId('logout-user').textContent()).toBe(email);
        await submit(page, 'logout-submit', /\/logout\?done=1$/);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You are signed out.');

        // direct sign-in (no OAuth request): the login page returns to a local path; without the session
        // cookie it first goes through /interaction/start to get one
        await page.goto(`${provider.url}/login?return_to=${encodeURIComponent('/logout')}`);
        expect(new URL(page.url()).searchParams.get('return_to')).toBe('/logout');
        expect(await page.getByTestId('client-name').count()).toBe(0);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(password);
        await submit(page, 'login-submit', /\/logout$/);
        expect(await page.getByTestId('logout-user').textContent()).toBe(email);
        // form-action names the registered redirect origins: consent's redirect to the client was allowed
        expect(cspViolations).toEqual([]);
      } finally {
        await context.close();
        await provider.stop();
      }
    } finally {
      await database.drop(); // also when the provider failed to start
    }
  });
});
