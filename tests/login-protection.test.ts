import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, startStack, type Stack } from './support/oidc';
import { auditWritten } from './support/server';

const ADMIN_EMAIL = 'admin@localhost.localdomain';

/** One direct sign-in attempt from `ip` (TRUSTED_PROXY=x-forwarded-for), as the login form posts it. */
async function attempt(agent: BrowserAgent, ip: string, password: string): Promise<Response> {
  if (!agent.cookies.size) await agent.get('/interaction/start?return_to=/');
  return agent.postForm('/interaction/login', { email: ADMIN_EMAIL, password, return_to: '/', csrf: await agent.csrf() }, { 'x-forwarded-for': ip });
}

describe('login protection: an attacker who knows the admin email cannot keep the admin out', () => {
  let stack: Stack;
  let adminPassword: string;

  beforeAll(async () => {
    stack = await startStack({ TRUSTED_PROXY: 'x-forwarded-for', RATE_LIMIT_LOGIN_PER_ACCOUNT: '20/3600' });
    // development: the first administrator's random password is printed once
    adminPassword = /password: (\S+)/.exec(stack.provider.output())![1];
  });
  afterAll(() => stack?.stop());

  it('50 failures from IP A; the owner from IP B signs in at once; a recognised device signs in past the account-wide backstop', async () => {
    const attacker = new BrowserAgent(stack.provider.url);
    const statuses: number[] = [];
    const burstStarted = Date.now();
    for (let i = 0; i < 50; i++) statuses.push((await attempt(attacker, '198.51.100.1', `guess-${i}`)).status);
    const burstSeconds = (Date.now() - burstStarted) / 1000;
    // 5 free failures, then a wait of 1 s, 2 s, 4 s... after each further one: in t seconds a source gets at
    // most log2(t + 1) + 1 more checks (how many depends on the machine's speed, the bound does not)
    const checked = statuses.filter((s) => s === 303).length;
    expect(statuses.every((s) => s === 303 || s === 429)).toBe(true);
    expect(statuses.slice(0, 5)).toEqual([303, 303, 303, 303, 303]);
    expect(checked).toBeLessThanOrEqual(5 + Math.floor(Math.log2(burstSeconds + 1)) + 1);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(40);

    const owner = new BrowserAgent(stack.provider.url);
    const started = Date.now();
    const login = await attempt(owner, '203.0.113.2', adminPassword);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/password?return_to=%2F'); // must change the initial password
    expect(Date.now() - started).toBeLessThan(2000);
    expect(owner.cookies.get('idp_device')).toMatch(/^[\w-]{43}$/);

    // many sources trip the backstop (20 failures/hour): new browsers wait, even with the right password
    for (let ip = 10; ip < 14; ip++) for (let i = 0; i < 5; i++) await attempt(new BrowserAgent(stack.provider.url), `198.51.100.${ip}`, `spray-${i}`);
    const stranger = await attempt(new BrowserAgent(stack.provider.url), '203.0.113.3', adminPassword);
    expect(stranger.status).toBe(429);
    expect(Number(stranger.headers.get('retry-after'))).toBeGreaterThan(0);
    // the owner's recognised browser does not
    const recognised = await attempt(owner, '203.0.113.3', adminPassword);
    expect(recognised.status).toBe(303);
    expect(recognised.headers.get('location')).toBe('/password?return_to=%2F');

    await auditWritten(stack.provider);
    const actions = await stack.store.db.query<{ action: string; n: number }>(
      `select action, count(*)::int as n from identity.audit_logs where action in ('auth.account_locked', 'security.rate_limited', 'auth.login_failed') group by action order by action`,
    );
    // the failures checked from A, then sprays until the backstop tripped at 20 failures (the rest met it)
    expect(Object.fromEntries(actions.map((a) => [a.action, a.n]))).toMatchObject({ 'auth.account_locked': 1, 'auth.login_failed': 20 });
  });
});
