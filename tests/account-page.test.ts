import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, pkce, requestTo, screenshot } from './support/browser';
import { BrowserAgent, signIn, startStack, type Stack } from './support/oidc';

/**
 * The account page in Debian's Chromium against the real server: sign in, see the page, end another
 * browser's session (its prompt=none then answers login_required), disconnect an app by keyboard (its
 * refresh token is then refused with invalid_grant), no serious or critical axe-core violation, on a
 * laptop and a phone viewport. Screenshots go to test-artifacts/.
 */

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

/** Runs axe-core in the page (evaluated through the debugging protocol, so the page's CSP does not apply). */
async function seriousAxeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id} ${v.targets.join(' ')}`);
}

async function signInThroughAccount(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(`${url}/account`);
  await page.waitForURL(/\/login\?return_to=%2Faccount/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(/\/account$/), page.getByTestId('login-submit').click()]);
}

let browser: Browser;
let stack: Stack;
beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startStack();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('account page in a real browser', () => {
  it('sessions, connected apps and activity: end another session, disconnect an app by keyboard, accessible on laptop and phone', async () => {
    const email = `owner-${randomBytes(4).toString('hex')}@example.org`;
    const password = `orchard-${randomBytes(6).toString('hex')}-lantern`;
    const redirectUri = 'http://127.0.0.1:9/cb';
    await stack.store.users.create({ email, password, name: 'Olive Owner', emailVerified: true });
    const { client, clientSecret } = await stack.store.clients.create({
      name: 'Photo Printer',
      redirectUris: [redirectUri],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    });
    const basic = `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}`;
    const authorizeUrl = (challenge: string, extra: Record<string, string> = {}) =>
      `/oidc/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: redirectUri,
        scope: 'openid profile offline_access',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: randomBytes(6).toString('hex'),
        ...extra,
      })}`;

    // the app holds a refresh token of the user (consent given through the real forms)
    const agent = new BrowserAgent(stack.provider.url);
    const grant = pkce();
    const callback = await signIn(agent, authorizeUrl(grant.challenge), { email, password });
    const tokenResponse = await fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: grant.verifier,
      }),
    });
    const { refresh_token: refreshToken } = (await tokenResponse.json()) as { refresh_token: string };
    expect(refreshToken).toBeTruthy();
    const refresh = (token: string) =>
      fetch(`${stack.provider.url}/oidc/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
      });

    const laptop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, userAgent: PHONE_UA, isMobile: true, hasTouch: true });
    try {
      const page = await laptop.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} ${new URL(response.url()).pathname}`);
      });

      // the start page links here
      await page.goto(stack.provider.url);
      expect(await page.getByTestId('start-account').getAttribute('href')).toBe('/account');
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, 'start-page');

      // not signed in: the sign-in flow, then back to /account
      await signInThroughAccount(page, stack.provider.url, email, password);
      expect(await page.getByTestId('profile-email').textContent()).toBe(email);
      expect(await page.getByTestId('security-link').getAttribute('href')).toBe('/account/security');

      // a second browser (a phone) signs in too; its prompt=none still gets a code
      const phonePage = await phone.newPage();
      await signInThroughAccount(phonePage, stack.provider.url, email, password);
      await expect.poll(() => phonePage.getByTestId('session-current').count()).toBe(1);
      expect(await seriousAxeViolations(phonePage)).toEqual([]);
      await screenshot(phonePage, 'account-phone');
      const silent = pkce();
      const before = await requestTo(phonePage, redirectUri, () =>
        phonePage.goto(`${stack.provider.url}${authorizeUrl(silent.challenge, { prompt: 'none' })}`).catch(() => {}),
      );
      expect(before.searchParams.get('code')).toBeTruthy();

      // the laptop sees both browsers (and the agent's session), the phone's parsed from its user agent
      await page.reload();
      const phoneRow = page.getByTestId('session-other').filter({ hasText: 'iOS' });
      await expect.poll(() => phoneRow.count()).toBe(1);
      expect(await page.getByTestId('session-current').textContent()).toContain('This device');
      expect(await page.getByTestId('session-current').textContent()).toContain('Chrome');
      await expect.poll(() => page.getByTestId('app-item').filter({ hasText: 'Photo Printer' }).count()).toBe(1);
      await expect.poll(() => page.getByTestId('activity-item').count()).toBeGreaterThan(0);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, 'account-laptop');

      // end the phone's session: its prompt=none now answers login_required
      await phoneRow.getByTestId('end-session').click();
      await expect.poll(() => page.getByTestId('sessions-note').textContent()).toBe('Session ended.');
      await expect.poll(() => page.getByTestId('session-other').filter({ hasText: 'iOS' }).count()).toBe(0);
      const after = await requestTo(phonePage, redirectUri, () =>
        phonePage.goto(`${stack.provider.url}${authorizeUrl(pkce().challenge, { prompt: 'none' })}`).catch(() => {}),
      );
      expect(after.searchParams.get('error')).toBe('login_required');

      // keyboard only: Tab reaches the app's Disconnect button, Enter disconnects it
      await page.goto(`${stack.provider.url}/account`);
      await expect.poll(() => page.getByTestId('revoke-app').count()).toBe(1);
      let reached = false;
      for (let i = 0; i < 60 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'revoke-app');
      }
      expect(reached, 'Tab reaches the Disconnect button').toBe(true);
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByTestId('apps-note').textContent()).toContain('Photo Printer disconnected');
      await expect.poll(() => page.getByTestId('apps-empty').count()).toBe(1);
      const refused = await refresh(refreshToken);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');

      // the activity shows the disconnection and the ended session, newest first
      // (the audit writer flushes in batches: ask again until the event is in)
      await expect
        .poll(
          async () => {
            await Promise.all([page.waitForResponse((r) => r.url().includes('/api/account/activity')), page.getByTestId('activity-refresh').click()]);
            return (await page.getByTestId('activity-item').first().getAttribute('data-action')) ?? '';
          },
          { timeout: 10_000 },
        )
        .toBe('auth.app_revoked');
      expect(await page.locator('[data-testid="activity-item"][data-action="auth.session_ended"]').count()).toBe(1);
      await screenshot(page, 'account-after-revoke');
      expect(problems).toEqual([]);
    } finally {
      await laptop.close();
      await phone.close();
    }
  });
});
