import { parse as parseCsv } from 'csv-parse/sync';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter } from '../packages/database-identity/src';
import { launchBrowser, screenshot } from './support/browser';
import { BrowserAgent, location, startStack, type Stack } from './support/oidc';

/**
 * The admin token analytics page in Chromium: a known mix of audit events is written with the data layer,
 * and the numbers the page shows (24 h, 7 days, one client, back again) are checked against the numbers
 * computed here from that list. Non-admins get the 403 page and a 403 from the API.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const FORMULA_UA = '=HYPERLINK("http://evil.example","x")';

interface Ev {
  ago: number;
  action: string;
  clientId: string;
  userId: string | null;
  grantType: string | null;
  /** Lifetime in seconds of an issued token. */
  ttl?: number;
  /** The issued response carried a refresh token. */
  refresh?: boolean;
  reason?: string;
  userAgent?: string;
  /** The token's audience (an API's resource identifier); none: the provider's default. */
  audience?: string;
}

let stack: Stack;
let browser: Browser;
const password = `dash-${randomBytes(8).toString('hex')}-board`;
const admin = { email: `admin-${randomBytes(4).toString('hex')}@example.org`, id: '' };
const member = { email: `member-${randomBytes(4).toString('hex')}@example.org`, id: '' };
const WEB = 'dash-web';
const BATCH = 'dash-batch';
const API = 'https://api.dash.example';
let events: Ev[] = [];
let now = 0;

beforeAll(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  admin.id = (await stack.store.users.create({ email: admin.email, password, roles: ['admin'], emailVerified: true })).id;
  member.id = (await stack.store.users.create({ email: member.email, password, emailVerified: true })).id;
  await stack.store.clients.create({
    clientId: WEB,
    name: 'Dashboard Web',
    tokenEndpointAuthMethod: 'none',
    redirectUris: ['http://127.0.0.1:9/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'offline_access'],
    firstParty: true,
  });
  await stack.store.clients.create({
    clientId: BATCH,
    name: 'Dashboard Batch',
    tokenEndpointAuthMethod: 'client_secret_basic',
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scopes: ['api'],
    firstParty: true,
  });

  const ac = (ago: number, clientId: string, userId: string, ttl: number): Ev => ({
    ago,
    action: 'token.issued.authorization_code',
    clientId,
    userId,
    grantType: 'authorization_code',
    ttl,
    refresh: true,
  });
  const cc = (ago: number, ttl: number): Ev => ({
    ago,
    action: 'token.issued.client_credentials',
    clientId: BATCH,
    userId: null,
    grantType: 'client_credentials',
    ttl,
    audience: API,
  });
  const refreshed = (ago: number, userId: string): Ev => ({ ago, action: 'token.refreshed', clientId: WEB, userId, grantType: 'refresh_token' });
  const failed = (ago: number, clientId: string, userId: string | null, extra: Partial<Ev> = {}): Ev => ({
    ago,
    action: 'token.validation_failed',
    clientId,
    userId,
    grantType: 'authorization_code',
    reason: 'invalid_grant',
    ...extra,
  });
  events = [
    // the last 24 hours (the newest first)
    failed(2 * MIN, WEB, admin.id, { userAgent: FORMULA_UA }),
    ac(30 * MIN, WEB, member.id, 3600),
    ac(90 * MIN, WEB, admin.id, 900),
    cc(3 * HOUR, 600),
    refreshed(5 * HOUR, member.id),
    failed(6 * HOUR, WEB, member.id),
    failed(10 * HOUR, BATCH, null),
    cc(20 * HOUR, 600),
    // 3 to 5 days ago
    ac(3 * DAY, WEB, member.id, 3600),
    refreshed(3.5 * DAY, member.id),
    cc(4 * DAY, 300),
    failed(4.5 * DAY, BATCH, null),
    ac(5 * DAY, BATCH, admin.id, 1800),
  ];
  now = Date.now();
  const writer = new AuditWriter(stack.store.db);
  events.forEach((e, i) => {
    const at = new Date(now - e.ago);
    const details: Record<string, unknown> = {};
    if (e.ttl) {
      details.issued_at = at.toISOString();
      details.expires_at = new Date(at.getTime() + e.ttl * 1000).toISOString();
      if (e.refresh) details.refresh_token_expires_at = new Date(at.getTime() + 30 * DAY).toISOString();
    }
    if (e.action === 'token.refreshed') details.previous_issued_at = new Date(at.getTime() - HOUR).toISOString();
    if (e.reason) details.reason = e.reason;
    writer.record({
      at,
      action: e.action,
      clientId: e.clientId,
      userId: e.userId,
      grantType: e.grantType,
      ip: `192.0.2.${i + 1}`,
      userAgent: e.userAgent ?? 'dashboard-test',
      audience: e.audience,
      details,
    });
  });
  await writer.close();
  expect(writer.stats().written).toBe(events.length);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** What the stat cards must show for events newer than `windowMs`, optionally for one client. */
function expected(windowMs: number, clientId?: string, audience?: string) {
  const evs = events.filter((e) => e.ago < windowMs && (!clientId || e.clientId === clientId) && (!audience || e.audience === audience));
  const issued = evs.filter((e) => e.action.startsWith('token.issued.'));
  const refreshedCount = evs.filter((e) => e.action === 'token.refreshed').length;
  const failedCount = evs.filter((e) => e.action === 'token.validation_failed').length;
  const withRefresh = issued.filter((e) => e.refresh).length;
  return {
    issued: issued.length,
    refreshed: refreshedCount,
    failed: failedCount,
    'unique-users': new Set(evs.map((e) => e.userId).filter(Boolean)).size,
    'unique-clients': new Set(evs.map((e) => e.clientId)).size,
    'refresh-rate': withRefresh ? refreshedCount / withRefresh : null,
    'failure-rate': issued.length + failedCount ? failedCount / (issued.length + failedCount) : null,
    'avg-lifetime': issued.length ? issued.reduce((s, e) => s + e.ttl!, 0) / issued.length : null,
    activity: evs.length,
  };
}

async function statValues(page: Page): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const id of ['issued', 'refreshed', 'failed', 'unique-users', 'unique-clients', 'refresh-rate', 'failure-rate', 'avg-lifetime']) {
    const raw = await page.getByTestId(`stat-${id}`).getAttribute('data-value', { timeout: 15_000 });
    out[id] = raw === '' || raw === null ? null : Number(raw);
  }
  return out;
}

/** Waits until the cards show `want` (the page loads asynchronously after every URL change). */
async function expectStats(page: Page, want: ReturnType<typeof expected>, what: string): Promise<void> {
  const { activity: _activity, ...numbers } = want;
  const round = (v: Record<string, number | null>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? null : Math.round(x * 1e3) / 1e3]));
  await expect.poll(async () => round(await statValues(page)), { timeout: 20_000, message: what }).toEqual(round(numbers));
}

async function signInWithForm(page: Page, base: string, path: string, email: string): Promise<void> {
  await page.goto(`${base}${path}`);
  await page.waitForURL(/\/login\?return_to=/);
  expect(new URL(page.url()).searchParams.get('return_to')).toBe(path);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL((url) => url.pathname === new URL(path, base).pathname), page.getByTestId('login-submit').click()]);
}

describe('token analytics dashboard', () => {
  it('admin: sign in, 24 h and 7 day numbers, client filter, back button, activity, CSV, screenshots', async () => {
    const base = stack.provider.url;

    // without a session: an HTTP redirect to the sign-in start, back to the same path and query afterwards
    const anonymous = await fetch(`${base}/analytics/tokens?range=7d`, { redirect: 'manual' });
    expect(anonymous.status).toBe(307);
    expect(location(anonymous)).toBe(`/interaction/start?return_to=${encodeURIComponent('/analytics/tokens?range=7d')}`);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Paris' });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      // (the 400 of the bad range below is logged by the browser as a failed resource: expected)
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
      });

      await signInWithForm(page, base, '/analytics/tokens', admin.email);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Token analytics');
      expect(await page.getByTestId('range-24h').getAttribute('aria-pressed')).toBe('true');

      // the last 24 hours, in the browser's time zone
      const day = expected(DAY);
      expect(day).toMatchObject({ issued: 4, refreshed: 1, failed: 3, 'unique-users': 2, 'unique-clients': 2 });
      await expectStats(page, day, '24h');
      expect(await page.getByTestId('filter-tz').inputValue()).toBe('Europe/Paris');
      expect(await page.getByTestId('range-summary').textContent()).toContain('Europe/Paris');
      expect(await page.getByTestId('stat-issued-value').textContent()).toBe(String(day.issued));
      expect(await page.getByTestId('stat-failure-rate-value').textContent()).toBe(`${((day['failure-rate'] ?? 0) * 100).toFixed(1)}%`);
      expect(await page.getByTestId('activity-row').count()).toBe(day.activity);
      for (const id of ['chart-issuance', 'chart-clients', 'chart-failures', 'chart-heatmap']) {
        expect(await page.getByTestId(id).getAttribute('aria-label'), id).toMatch(/.{20,}/);
      }
      expect(await page.getByTestId('chart-issuance').getAttribute('aria-label')).toContain(`${day.issued} in`);

      // 7 days: the URL changes, the numbers follow
      await page.getByTestId('range-7d').click();
      await page.waitForURL(/[?&]range=7d/);
      const week = expected(7 * DAY);
      expect(week).toMatchObject({ issued: 7, refreshed: 2, failed: 4 });
      await expectStats(page, week, '7d');
      await expect.poll(() => page.getByTestId('activity-row').count()).toBe(week.activity);

      // one client
      await page.getByTestId('filter-client').selectOption(BATCH);
      await page.waitForURL(new RegExp(`client_id=${BATCH}`));
      expect(new URL(page.url()).searchParams.get('range')).toBe('7d');
      const batch = expected(7 * DAY, BATCH);
      expect(batch).toMatchObject({ issued: 4, refreshed: 0, failed: 2, 'unique-users': 1, 'unique-clients': 1 });
      await expectStats(page, batch, '7d client');
      await expect.poll(() => page.getByTestId('activity-row').count()).toBe(batch.activity);

      // Back: the previous filters (7 days, every client)
      await page.goBack();
      await page.waitForURL((url) => url.searchParams.get('range') === '7d' && !url.searchParams.has('client_id'));
      await expectStats(page, week, 'back to 7d');
      expect(await page.getByTestId('filter-client').inputValue()).toBe('');
      expect(await page.getByTestId('range-7d').getAttribute('aria-pressed')).toBe('true');

      // by API: the default audience and the one API, most tokens first; a row filters to its API
      const apis = page.getByTestId('audience-row');
      await expect.poll(() => apis.count()).toBe(2);
      expect(await apis.evaluateAll((els) => els.map((el) => el.getAttribute('data-audience')))).toEqual(['', API]);
      expect(await apis.first().textContent()).toContain('default (provider)');
      await apis.nth(1).getByRole('button').click();
      await page.waitForURL((url) => url.searchParams.get('audience') === API);
      const api = expected(7 * DAY, undefined, API);
      expect(api).toMatchObject({ issued: 3, failed: 0, 'unique-clients': 1 });
      await expectStats(page, api, '7d API');
      expect(await page.getByTestId('filter-audience').inputValue()).toBe(API);
      await expect.poll(() => page.getByTestId('activity-row').count()).toBe(api.activity);
      await page.getByTestId('filter-audience').selectOption('default');
      await page.waitForURL((url) => url.searchParams.get('audience') === 'default');
      await expect.poll(() => page.getByTestId('audience-row').evaluateAll((els) => els.map((el) => el.getAttribute('data-audience')))).toEqual(['']);
      await page.goBack();
      await page.goBack();
      await page.waitForURL((url) => url.searchParams.get('range') === '7d' && !url.searchParams.has('audience'));
      await expectStats(page, week, 'back to every API');

      // recent activity: newest first, failures marked
      await expect.poll(() => page.getByTestId('activity-row').count()).toBe(week.activity);
      const rows = page.getByTestId('activity-row');
      const first = rows.first();
      expect(await first.getAttribute('data-action')).toBe('token.validation_failed');
      expect(await first.getAttribute('data-failed')).toBe('true');
      expect(await first.getByTestId('activity-reason').textContent()).toBe('invalid_grant');
      expect(await first.getAttribute('class')).toContain('text-red-800');
      expect(await first.textContent()).toContain(admin.email); // the admin is among the most active users: named by email
      expect(await rows.nth(1).getAttribute('data-action')).toBe('token.issued.authorization_code');
      expect(await rows.nth(1).getAttribute('data-failed')).toBe('false');
      const times = await rows.locator('time').evaluateAll((els) => els.map((el) => el.getAttribute('datetime') ?? ''));
      expect(times).toEqual([...times].sort().reverse());
      expect(await page.locator('[data-testid="activity-row"][data-failed="true"]').count()).toBe(week.failed);

      // CSV of the activity shown: RFC 4180 quoting, formulas neutralised
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-activity').click()]);
      const csv = await readFile((await download.path())!, 'utf8');
      const lines = parseCsv(csv) as string[][];
      expect(lines[0]).toEqual([
        'time',
        'action',
        'failed',
        'reason',
        'client_id',
        'user_id',
        'user_email',
        'grant_type',
        'ip_address',
        'user_agent',
        'request_id',
      ]);
      expect(lines).toHaveLength(week.activity + 1);
      expect(csv.split('\r\n')[1]).toContain(`,"'=HYPERLINK(""http://evil.example"",""x"")",`);
      expect(lines[1].slice(1, 5)).toEqual(['token.validation_failed', 'true', 'invalid_grant', 'dash-web']);

      await screenshot(page, 'dashboard-desktop');

      // a phone: one column, nothing wider than the screen
      await page.setViewportSize({ width: 390, height: 844 });
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(page, 'dashboard-phone');
      await page.setViewportSize({ width: 1280, height: 900 });

      // keyboard: the range buttons are reachable and work with the keyboard
      await page.getByTestId('range-30d').focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(/[?&]range=30d/);
      await expectStats(page, week, '30d (everything is newer than 7 days)');

      // a bad custom range: the API's message is shown
      await page.goto(`${base}/analytics/tokens?range=custom&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z`);
      await expect.poll(() => page.getByTestId('dashboard-error').textContent()).toContain('Invalid end: must be after start');

      // nothing for these filters (a user without token events)
      await page.goto(`${base}/analytics/tokens?range=24h&user_id=00000000-0000-4000-8000-000000000000`);
      await expect.poll(() => page.getByTestId('dashboard-empty').textContent()).toContain('No token activity in this range');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('non-admin: the 403 page in the browser, 403 from the API', async () => {
    const base = stack.provider.url;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await signInWithForm(page, base, '/analytics/tokens', member.email);
      await page.getByTestId('forbidden').waitFor();
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You need administrator access');
      expect(await page.getByTestId('stat-issued').count()).toBe(0);
      await screenshot(page, 'dashboard-forbidden');
    } finally {
      await context.close();
    }

    const anonymous = new BrowserAgent(base);
    expect((await anonymous.get('/api/analytics/tokens')).status).toBe(401);

    const agent = new BrowserAgent(base);
    const start = await agent.get('/interaction/start?return_to=/');
    expect(location(start)).toMatch(/^\/login\?return_to=/);
    const login = await agent.postForm('/interaction/login', { return_to: '/', csrf: await agent.csrf(), email: member.email, password });
    expect(location(login)).toBe('/');
    const page = await agent.get('/analytics/tokens');
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('You need administrator access');
    const api = await agent.get('/api/analytics/tokens?range=7d');
    expect(api.status).toBe(403);
    expect(await api.json()).toMatchObject({ error: 'forbidden' });
    expect((await agent.get('/api/analytics/tokens/activity')).status).toBe(403);
  });
});
