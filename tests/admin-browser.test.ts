import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from './support/browser';
import { BrowserAgent, location, signIn, startStack, type Stack } from './support/oidc';

/**
 * The admin console in Debian's Chromium: each screen is used the way an administrator would (keyboard
 * reachable controls, confirm steps), its effect checked with real clients, and axe-core run on it (serious
 * or critical violations fail). Screenshots go to test-artifacts/.
 */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const ADMIN = { email: 'browser.admin@example.org', password: 'browser-admin-password-1' };
const ALICE = { email: 'alice.browser@example.org', password: 'alice-browser-password-1' };
const REDIRECT = 'http://127.0.0.1:9/cb';

let browser: Browser;
let stack: Stack;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startStack({ ADMIN_REAUTH_SECONDS: '3600' });
  await stack.store.users.create({ ...ADMIN, roles: ['admin'] });
  await stack.store.users.create(ALICE);
  // axe is injected into the page: the test's own script, not the page's, so the page's CSP is bypassed for it
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  page = await context.newPage();
  await page.goto(`${stack.provider.url}/interaction/start?return_to=/admin`);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await Promise.all([page.waitForURL(/\/admin$/), page.getByTestId('login-submit').click()]);
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

/** axe-core on the current page: no serious or critical violation. */
async function expectAccessible(name: string) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await (
      window as unknown as {
        axe: { run(ctx: Document, options: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id}: ${v.nodes
            .slice(0, 3)
            .map((n) => n.target.join(' '))
            .join(', ')}`,
      );
  });
  expect(violations, `axe on ${name}`).toEqual([]);
  await screenshot(page, `admin-${name}`);
}

const discover = (clientId: string, auth: client.ClientAuth) =>
  client.discovery(new URL(stack.provider.url), clientId, {}, auth, { execute: [client.allowInsecureRequests] });

async function clientCredentialsStatus(clientId: string, secret: string): Promise<number> {
  try {
    await client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(secret)), { scope: 'api.read' });
    return 200;
  } catch (error) {
    return (error as { status?: number }).status ?? 0;
  }
}

describe('admin console in a real browser', () => {
  it('overview: health, counts, links into analytics', async () => {
    await page.goto(`${stack.provider.url}/admin`);
    await expect.poll(() => page.getByTestId('health-database').textContent()).toContain('Answering in');
    expect(await page.getByRole('link', { name: 'Token analytics' }).first().getAttribute('href')).toBe('/analytics/tokens');
    await expectAccessible('overview');
    // a phone: the section navigation scrolls, nothing overflows the page
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await screenshot(page, 'admin-overview-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('clients: register one, use it with openid-client, rotate its secret (old one works during the grace period, then fails)', async () => {
    await page.goto(`${stack.provider.url}/admin/clients/new`);
    await page.getByLabel('Name').fill('Browser-made service');
    await page.getByLabel('authorization_code').uncheck();
    await page.getByLabel('refresh_token').uncheck();
    await page.getByLabel('client_credentials').check();
    await page.getByLabel(/^Scopes/).fill('api.read');
    await expectAccessible('client-new');
    await page.getByTestId('client-create-submit').click();
    const clientId = (await page.getByTestId('created-client-id').textContent())!;
    const oldSecret = (await page.getByTestId('created-client-secret').textContent())!;
    expect(await clientCredentialsStatus(clientId, oldSecret)).toBe(200);
    await screenshot(page, 'admin-client-created');

    await page.goto(`${stack.provider.url}/admin/clients`);
    await expect.poll(() => page.getByTestId('clients-table').textContent()).toContain('Browser-made service');
    await expectAccessible('clients');

    await page.goto(`${stack.provider.url}/admin/clients/${clientId}`);
    await page.getByTestId('grace-seconds').fill('4');
    await page.getByTestId('rotate-secret').click();
    const newSecret = (await page.getByTestId('new-client-secret').textContent())!;
    expect(newSecret).not.toBe(oldSecret);
    expect(await clientCredentialsStatus(clientId, newSecret)).toBe(200);
    const rotatedAt = Date.now();
    const during = await clientCredentialsStatus(clientId, oldSecret);
    if (Date.now() - rotatedAt < 3000) expect(during).toBe(200);
    await expect.poll(() => clientCredentialsStatus(clientId, oldSecret), { timeout: 15_000, interval: 250 }).toBe(401);
    expect(await clientCredentialsStatus(clientId, newSecret)).toBe(200);
    await expectAccessible('client-detail');
  });

  it('users: lock one and see the sign-in refused; the user page shows the events', async () => {
    const alice = await stack.store.users.findByEmailForLogin(ALICE.email);
    await page.goto(`${stack.provider.url}/admin/users?q=alice.browser`);
    await expect.poll(() => page.getByTestId('users-table').textContent()).toContain(ALICE.email);
    await expectAccessible('users');
    await page.getByRole('link', { name: ALICE.email }).click();
    await page.waitForURL(new RegExp(`/admin/users/${alice!.id}$`));
    await page.getByTestId('user-lock').click();
    await page.getByTestId('user-lock-confirm').click();
    await expect.poll(() => page.getByTestId('user-state').textContent()).toContain('locked');

    const agent = new BrowserAgent(stack.provider.url);
    await agent.get('/interaction/start?return_to=/');
    const login = await agent.postForm('/interaction/login', { ...ALICE, return_to: '/', csrf: await agent.csrf() });
    expect(location(login)).toContain('error=invalid_credentials');

    await page.getByTestId('user-unlock').click();
    await expect.poll(() => page.getByTestId('user-state').textContent()).toContain('active');
    await page.reload();
    await expect.poll(() => page.getByTestId('user-events').textContent(), { timeout: 10_000 }).toContain('account_locked');
    await expectAccessible('user-detail');
  });

  it('sessions: end one, and prompt=none answers login_required', async () => {
    const { client: spa } = await stack.store.clients.create({
      name: 'Browser SPA',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [REDIRECT],
      firstParty: true,
    });
    const config = await discover(spa.clientId, client.None());
    const authorize = async (extra: Record<string, string> = {}) =>
      client
        .buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT,
          scope: 'openid',
          state: 's',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          ...extra,
        })
        .toString();
    const alice = new BrowserAgent(stack.provider.url);
    expect((await signIn(alice, await authorize(), ALICE)).searchParams.get('code')).toBeTruthy();

    await page.goto(`${stack.provider.url}/admin/sessions?q=${encodeURIComponent(ALICE.email)}`);
    await expect.poll(() => page.getByTestId('session-row').count()).toBe(1);
    await expectAccessible('sessions');
    await page.getByTestId('session-end').click();
    await page.getByTestId('session-end-confirm').click();
    await expect.poll(() => page.getByTestId('session-row').count()).toBe(0);
    const silent = new URL(location(await alice.get(await authorize({ prompt: 'none' }))));
    expect(silent.searchParams.get('error')).toBe('login_required');
  });

  it('signing keys: states, and what rotation will do before it does it', async () => {
    await page.goto(`${stack.provider.url}/admin/keys`);
    const before = await page.getByTestId('key-row').count();
    await page.getByTestId('rotate-ES256').click();
    expect(await page.getByRole('group', { name: /Confirm/ }).textContent()).toContain('starts signing in');
    await page.getByTestId('rotate-ES256-confirm').click();
    // a scheduled rotation: the successor is published ahead of time, the current key still signs
    await expect.poll(() => page.getByTestId('key-row').count()).toBe(before + 1);
    await page.reload();
    expect(await page.getByTestId('keys-table').textContent()).toContain('next');
    // the emergency: the scheduled successor signs now, the old key is retiring
    await page.getByTestId('rotate-now-ES256').click();
    expect(await page.getByRole('group', { name: /Confirm/ }).textContent()).toContain('reject new tokens until they refetch');
    await page.getByTestId('rotate-now-ES256-confirm').click();
    await expect
      .poll(async () => {
        await page.reload();
        return page.getByTestId('keys-table').textContent();
      })
      .toContain('retiring');
    await expectAccessible('keys');
  });

  it('audit trail: filter by action prefix (in the URL), page, export', async () => {
    await page.goto(`${stack.provider.url}/admin/audit`);
    await page.getByLabel('Action (prefix*)').fill('admin.*');
    await Promise.all([page.waitForURL(/action=admin\.\*/), page.getByTestId('audit-apply').click()]);
    await expect.poll(async () => (await page.getByTestId('event-row').allTextContents()).every((t) => t.includes('admin.'))).toBe(true);
    expect(await page.getByTestId('event-row').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('audit-export').getAttribute('href')).toMatch(/^\/api\/admin\/audit\?action=admin.*format=csv$/);
    await expectAccessible('audit');
  });

  it('security events: a real code replay, opened with its evidence and related events', async () => {
    const { client: spa } = await stack.store.clients.create({
      name: 'Replay SPA',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [REDIRECT],
      firstParty: true,
    });
    const config = await discover(spa.clientId, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 's',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new BrowserAgent(stack.provider.url), url.toString(), ALICE);
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' })).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    await expect
      .poll(
        async () => {
          await page.goto(`${stack.provider.url}/admin/security?kind=replay`);
          return page.getByTestId('event-row').count();
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    await expectAccessible('security');
    await Promise.all([page.waitForURL(/\/admin\/audit\/[0-9a-f-]{36}$/), page.getByRole('link', { name: 'token.code_replayed' }).first().click()]);
    expect(await page.getByTestId('event-action').textContent()).toBe('token.code_replayed');
    expect(await page.getByTestId('event-family').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByTestId('related-events').textContent()).toContain('token.issued.authorization_code');
    await expectAccessible('security-event');
  });
});
