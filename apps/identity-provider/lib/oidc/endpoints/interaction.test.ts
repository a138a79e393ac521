import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIdentityStore, verifyPassword, type IdentityStore } from '@idp/database-identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../bootstrap';
import { providerSettings } from '../../container';
import { loadConfig } from '../../env';
import { createLogger } from '../../log';
import { createRateLimiter } from '../../security/rate-limit';
import type { AuditEvent } from '../audit';
import type { Provider, RequestContext } from '../ports';
import { readBrowserSession, sessionCookie } from '../session';
import { changePasswordAction, loginAction, safeLocalPath, startSignIn } from './interaction';
import { embeddedTemplate } from '@idp/database-identity/testing';

const root = mkdtempSync(join(tmpdir(), 'idp-interaction-'));
const ISSUER = 'http://localhost:3000';
const ADMIN = { email: 'admin@localhost.localdomain', password: 'the-real-admin-password-1' };

let store: IdentityStore;

beforeAll(async () => {
  store = await openIdentityStore({ dataDir: join(root, 'pglite'), keyEncryptionSecret: 'k'.repeat(48), embeddedTemplate: embeddedTemplate() });
});
afterAll(() => store?.close());

/** A provider over the embedded store with a clock and an audit sink the test controls. */
function testProvider(env: Record<string, string> = {}) {
  const config = loadConfig({ DATA_DIR: root, ISSUER_URL: ISSUER, SESSION_SECRET: 's'.repeat(48), KEY_ENCRYPTION_SECRET: 'k'.repeat(48), ...env }, root);
  let time = Date.now();
  const events: AuditEvent[] = [];
  const provider = {
    settings: providerSettings(config),
    store,
    audit: { record: (event: AuditEvent) => void events.push(event) },
    limiter: createRateLimiter(),
    now: () => new Date(time),
  } as unknown as Provider;
  return { provider, events, advance: (seconds: number) => void (time += seconds * 1000) };
}

/** A browser: a cookie jar over the endpoint functions, with the client IP it appears to come from. */
class Browser {
  cookies = new Map<string, string>();
  constructor(
    readonly provider: Provider,
    public ip: string,
  ) {}

  request(path: string, form?: Record<string, string>): Request {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    return new Request(new URL(path, ISSUER), form ? { method: 'POST', headers, body: new URLSearchParams(form) } : { headers });
  }
  keep(response: Response): Response {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return response;
  }
  ctx(): RequestContext {
    return { requestId: 'test', ip: this.ip, userAgent: 'vitest' };
  }
  async start(returnTo = '/') {
    return this.keep(await startSignIn(this.request(`/interaction/start?return_to=${encodeURIComponent(returnTo)}`), this.ctx(), this.provider));
  }
  async csrf(): Promise<string> {
    return (await readBrowserSession(this.request('/'), this.provider.settings)).csrf;
  }
  async login(email: string, password: string, extra: Record<string, string> = {}) {
    if (!this.cookies.size) await this.start();
    const form = { email, password, return_to: '/', csrf: await this.csrf(), ...extra };
    return this.keep(await loginAction(this.request('/interaction/login', form), this.ctx(), this.provider));
  }
  async changePassword(form: Record<string, string>) {
    return this.keep(
      await changePasswordAction(this.request('/interaction/password', { return_to: '/', csrf: await this.csrf(), ...form }), this.ctx(), this.provider),
    );
  }
}

const sessionsOf = async (userId: string) =>
  (await store.db.query<{ n: number }>(`select count(*)::int as n from identity.sessions where user_id = $1 and revoked_at is null`, [userId]))[0].n;

async function newUser(email: string, password: string, options: { mustChangePassword?: boolean; roles?: string[] } = {}) {
  return store.users.create({ email, password, ...options });
}

describe('item 3: redirects after sign-in stay on this site', () => {
  it('safeLocalPath accepts local paths and refuses control characters, backslashes and other origins, also percent-encoded', () => {
    expect(safeLocalPath('/', ISSUER)).toBe('/');
    expect(safeLocalPath('/analytics/tokens?range=7d#top', ISSUER)).toBe('/analytics/tokens?range=7d#top');
    for (const hostile of [
      '/\t/evil.example/',
      '/%09/evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/%5Cevil.example',
      '/%2F/evil.example',
      '/x\r\nSet-Cookie: a=b',
      '/x%0d%0aSet-Cookie:%20a=b',
      '/\u0000',
      '/%7F',
      'https://evil.example/',
      'evil',
      '/%E0%A4%A',
    ]) {
      expect(safeLocalPath(hostile, ISSUER), JSON.stringify(hostile)).toBeNull();
    }
  });

  it('a hostile return_to is a 400 at /interaction/start and at the login form, and no session is created', async () => {
    const { provider } = testProvider();
    const user = await newUser('redirect.victim@example.org', 'redirect-victim-password');
    const browser = new Browser(provider, '192.0.2.10');
    const start = await browser.start('/%09/evil.example/');
    expect(start.status).toBe(400);
    await browser.start('/');
    for (const returnTo of ['/\t/evil.example/', '/%09/evil.example/', '/x\r\nSet-Cookie: a=b']) {
      const login = await browser.login(user.email, 'redirect-victim-password', { return_to: returnTo });
      expect(login.status, JSON.stringify(returnTo)).toBe(400);
      expect(login.headers.get('location')).toBeNull();
    }
    expect(await sessionsOf(user.id)).toBe(0);
    const ok = await browser.login(user.email, 'redirect-victim-password', { return_to: '/analytics/tokens?range=7d' });
    expect(ok.headers.get('location')).toBe('/analytics/tokens?range=7d');
  });

  it("CR/LF in the password form's interaction field is a 400, not a 500", async () => {
    const { provider } = testProvider();
    const user = await newUser('crlf.user@example.org', 'crlf-user-password-1', { mustChangePassword: true });
    const browser = new Browser(provider, '192.0.2.11');
    expect((await browser.login(user.email, 'crlf-user-password-1')).status).toBe(303);
    const response = await browser.changePassword({ interaction: 'AAAAAAAAAAAAAAAA\r\nSet-Cookie: a=b', new_password: 'short', confirm_password: 'short' });
    expect(response.status).toBe(400);
    const proto = await browser.changePassword({ interaction: '__proto__', new_password: 'short', confirm_password: 'short' });
    expect(proto.status).toBe(400);
  });
});

describe('item 4: nobody who merely knows an email can keep its owner out', () => {
  it('50 failures from one IP throttle that IP with growing waits (no hash), while the owner signs in from another IP at once', async () => {
    const { provider, events, advance } = testProvider();
    const admin = await newUser(ADMIN.email, ADMIN.password, { roles: ['admin'] });
    const attacker = new Browser(provider, '198.51.100.66');
    const statuses: number[] = [];
    const retryAfter: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await attacker.login(ADMIN.email, `guess-${i}`);
      statuses.push(res.status);
      if (res.status === 429) retryAfter.push(Number(res.headers.get('retry-after')));
    }
    // five free failures, then a wait: every further attempt within it is refused without a password check
    expect(statuses.slice(0, 5)).toEqual([303, 303, 303, 303, 303]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect(retryAfter[0]).toBe(1);
    // after waiting, one more failure doubles the wait
    advance(1);
    expect((await attacker.login(ADMIN.email, 'guess-after-wait')).status).toBe(303);
    const doubled = await attacker.login(ADMIN.email, 'guess-too-soon');
    expect(doubled.status).toBe(429);
    expect(Number(doubled.headers.get('retry-after'))).toBe(2);
    expect(events.filter((e) => e.action === 'auth.login_failed')).toHaveLength(6);
    expect(events.filter((e) => e.action === 'security.rate_limited').at(-1)?.details).toMatchObject({
      endpoint: 'login',
      scope: 'account_ip',
      retry_after_seconds: 2,
    });

    const owner = new Browser(provider, '203.0.113.5');
    const login = await owner.login(ADMIN.email, ADMIN.password);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    expect(await sessionsOf(admin.id)).toBe(1);
  });

  it('successful logins never count against the per-account limit', async () => {
    const { provider } = testProvider({ RATE_LIMIT_LOGIN_PER_ACCOUNT: '3/900' });
    const user = await newUser('frequent.user@example.org', 'frequent-user-password');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await new Browser(provider, '192.0.2.20').login(user.email, 'frequent-user-password')).status);
    expect(statuses).toEqual([303, 303, 303, 303, 303, 303]);
  });

  it('the account-wide backstop throttles unrecognised devices only; a recognised device cookie still signs in', async () => {
    const { provider, events } = testProvider({ RATE_LIMIT_LOGIN_PER_ACCOUNT: '10/3600' });
    const user = await newUser('backstop.owner@example.org', 'backstop-owner-password');
    const laptop = new Browser(provider, '203.0.113.7');
    expect((await laptop.login(user.email, 'backstop-owner-password')).status).toBe(303);
    expect([...laptop.cookies.keys()]).toContain('idp_device');

    for (let i = 0; i < 10; i++) await new Browser(provider, `198.51.100.${i + 1}`).login(user.email, `spray-${i}`);
    const locked = events.find((e) => e.action === 'auth.account_locked');
    expect(locked).toMatchObject({ userId: user.id, details: { scope: 'unrecognised_devices', failures: 10 } });

    // a new browser, even with the right password, waits for the window's end
    const stranger = await new Browser(provider, '203.0.113.99').login(user.email, 'backstop-owner-password');
    expect(stranger.status).toBe(429);
    expect(Number(stranger.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect(events.at(-1)).toMatchObject({ action: 'security.rate_limited', details: { endpoint: 'login', scope: 'account' } });

    // the owner's laptop, from anywhere, is not affected
    laptop.ip = '198.51.100.1';
    const again = await laptop.login(user.email, 'backstop-owner-password');
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/');
  });
});

describe('item 7: changing the password needs the current one and ends everything else', () => {
  it('refuses a change without the current password; with it, ends other sessions and revokes refresh tokens (audited with counts)', async () => {
    const { provider, events } = testProvider();
    const user = await newUser('changer@example.org', 'changer-old-password');
    const thief = new Browser(provider, '198.51.100.9');
    expect((await thief.login(user.email, 'changer-old-password')).status).toBe(303);
    const other = new Browser(provider, '203.0.113.9');
    expect((await other.login(user.email, 'changer-old-password')).status).toBe(303);
    const clientId = (await store.clients.create({ name: 'rp', redirectUris: ['https://rp.example/cb'] })).client.clientId;
    const { familyId } = await store.grants.createFamily({ clientId, userId: user.id, scope: ['openid', 'offline_access'] });
    await store.grants.issueRefreshToken({
      token: 'refresh-token-of-changer',
      familyId,
      clientId,
      userId: user.id,
      scope: ['openid', 'offline_access'],
      ttlSeconds: 3600,
    });

    const without = await thief.changePassword({ new_password: 'thief-chosen-password', confirm_password: 'thief-chosen-password' });
    expect(without.headers.get('location')).toBe('/password?return_to=%2F&error=current');
    const wrong = await thief.changePassword({ current_password: 'nope', new_password: 'thief-chosen-password', confirm_password: 'thief-chosen-password' });
    expect(wrong.headers.get('location')).toBe('/password?return_to=%2F&error=current');
    expect(await verifyPassword('changer-old-password', (await store.users.findByEmailForLogin(user.email))!.passwordHash)).toBe(true);

    const changed = await other.changePassword({
      current_password: 'changer-old-password',
      new_password: 'changer-new-password',
      confirm_password: 'changer-new-password',
    });
    expect(changed.headers.get('location')).toBe('/');
    expect(await sessionsOf(user.id)).toBe(1);
    expect((await store.grants.findRefreshToken('refresh-token-of-changer'))?.active).toBe(false);
    expect(events.find((e) => e.action === 'auth.password_changed')?.details).toEqual({ forced: false, sessions_ended: 1, refresh_tokens_revoked: 1 });
  });

  it('the forced change right after login needs no current password; later it does', async () => {
    const { provider, advance } = testProvider();
    const fresh = await newUser('forced.fresh@example.org', 'initial-password-1', { mustChangePassword: true });
    const a = new Browser(provider, '192.0.2.30');
    expect((await a.login(fresh.email, 'initial-password-1')).headers.get('location')).toBe('/password?return_to=%2F');
    expect((await a.changePassword({ new_password: 'fresh-new-password', confirm_password: 'fresh-new-password' })).headers.get('location')).toBe('/');

    const stale = await newUser('forced.stale@example.org', 'initial-password-2', { mustChangePassword: true });
    const b = new Browser(provider, '192.0.2.31');
    await b.login(stale.email, 'initial-password-2');
    advance(11 * 60);
    expect((await b.changePassword({ new_password: 'stale-new-password', confirm_password: 'stale-new-password' })).headers.get('location')).toMatch(
      /error=current$/,
    );
  });
});

describe('item 13: the first administrator in production without a secret in the logs', () => {
  const prod = {
    NODE_ENV: 'production',
    ISSUER_URL: 'https://id.example.org',
    SESSION_SECRET: 'Zq9-Xw3_Yv7.Ur1~Ts5Rp8Qn2Mm'.repeat(2),
    KEY_ENCRYPTION_SECRET: 'Ab4-Cd5_Ef6.Gh7~Ij8Kl9Mn0Op'.repeat(2),
  };

  async function boot(env: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'idp-bootstrap-'));
    const bootStore = await openIdentityStore({ dataDir: join(dir, 'pglite'), keyEncryptionSecret: 'b'.repeat(48), embeddedTemplate: embeddedTemplate() });
    const lines: string[] = [];
    const log = createLogger('debug', {}, (line) => lines.push(line) > 0);
    const printed: string[] = [];
    try {
      await bootstrap(bootStore, loadConfig({ DATA_DIR: dir, ...env }, root), log, (text) => printed.push(text) > 0);
      const admin = await bootStore.users.findByEmailForLogin('admin@localhost.localdomain');
      return { admin, output: lines.join('\n') + printed.join(''), printed, dir };
    } finally {
      await bootStore.close();
    }
  }

  it('production: the initial password comes from ADMIN_PASSWORD_FILE, must be changed, and is never printed or logged', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'idp-admin-pw-')), 'admin-password');
    writeFileSync(file, 'initial-admin-password-from-file\n', { mode: 0o600 });
    const { admin, output, printed } = await boot({ ...prod, ADMIN_PASSWORD_FILE: file });
    expect(admin?.mustChangePassword).toBe(true);
    expect(await verifyPassword('initial-admin-password-from-file', admin!.passwordHash)).toBe(true);
    expect(printed).toEqual([]);
    expect(output).not.toContain('initial-admin-password-from-file');
  });

  it('production without ADMIN_PASSWORD_FILE: no administrator and nothing secret printed; development still prints one', async () => {
    const production = await boot(prod);
    expect(production.admin).toBeNull();
    expect(production.printed).toEqual([]);
    expect(production.output).toMatch(/ADMIN_PASSWORD_FILE/);
    const development = await boot({});
    expect(development.admin?.mustChangePassword).toBe(true);
    expect(development.printed.join('')).toMatch(/password: \S{20,}/);
  });
});

describe('item 18: the session cookie carries the __Host- prefix on https', () => {
  it('https: __Host-idp_session with Path=/, Secure and no Domain, read back; http keeps idp_session', async () => {
    const https = testProvider({ ISSUER_URL: 'https://id.example.org' }).provider.settings;
    const cookie = await sessionCookie({ csrf: 'c', interactions: {} }, https);
    expect(cookie).toMatch(/^__Host-idp_session=/);
    expect(cookie).toContain('; Path=/');
    expect(cookie).toContain('; Secure');
    expect(cookie).not.toMatch(/Domain=/i);
    const pair = cookie.split(';')[0];
    expect((await readBrowserSession(new Request('https://id.example.org/', { headers: { cookie: pair } }), https)).csrf).toBe('c');
    // the unprefixed name is not read on https (a subdomain could have set it)
    expect((await readBrowserSession(new Request('https://id.example.org/', { headers: { cookie: pair.replace('__Host-', '') } }), https)).csrf).not.toBe('c');
    const http = testProvider().provider.settings;
    expect(await sessionCookie({ csrf: 'c', interactions: {} }, http)).toMatch(/^idp_session=/);
  });
});
