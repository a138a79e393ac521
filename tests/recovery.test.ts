import { randomBytes } from 'node:crypto';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { Browser, Page } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../apps/identity-provider/cli/idp';
import { loadConfig } from '../apps/identity-provider/lib/env';
import { launchBrowser, pkce, screenshot } from './support/browser';
import { BrowserAgent, KEY_ENCRYPTION_SECRET, location, SESSION_SECRET, signIn, startStack, type Stack } from './support/oidc';
import { freePort } from './support/server';

/**
 * Account recovery end to end (issue #16): a real SMTP server (smtp-server) receives the provider's mail,
 * Debian's Chromium follows the links. A reset kills the old session (prompt=none -> login_required) and
 * the old refresh token (invalid_grant); a verification flips email_verified in userinfo.
 */
const REDIRECT = 'http://127.0.0.1:9/cb';

/** A local SMTP server collecting parsed messages. */
async function startSmtp(): Promise<{ url: string; inbox: ParsedMail[]; after(mark: number, to: string): Promise<ParsedMail>; close(): Promise<void> }> {
  const inbox: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        inbox.push(mail);
        callback();
      }, callback);
    },
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    url: `smtp://127.0.0.1:${port}`,
    inbox,
    /** The first message to `to` received after the inbox held `mark` messages (waits for it). */
    async after(mark, to) {
      let found: ParsedMail | undefined;
      await expect
        .poll(() => (found = inbox.slice(mark).find((m) => m.to && JSON.stringify(m.to).includes(to))), { timeout: 20_000, interval: 100 })
        .toBeTruthy();
      return found!;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

const linkIn = (mail: ParsedMail) => /(https?:\/\/\S+\/interaction\/(?:reset|verify)-link\?token=[\w-]+)/.exec(mail.text ?? '')![1];

let browser: Browser;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let stack: Stack;
const user = { email: `grace-${randomBytes(3).toString('hex')}@example.org`, password: `compiler-${randomBytes(6).toString('hex')}-cobol` };
let userId: string;
let clientId: string;
const secrets: string[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  stack = await startStack({ SMTP_URL: smtp.url, MAIL_FROM: 'Identity provider <idp@example.test>', LOG_LEVEL: 'info' });
  userId = (await stack.store.users.create({ ...user, name: 'Grace Hopper' })).id;
  clientId = (
    await stack.store.clients.create({ name: 'RP', tokenEndpointAuthMethod: 'none', redirectUris: [REDIRECT], scopes: ['openid', 'email', 'offline_access'] })
  ).client.clientId;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await smtp?.close();
});

/** Code flow through the real forms with a fetch-based browser: its session, and the tokens. */
async function signInWithTokens(agent: BrowserAgent, password: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const authorize = `/oidc/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid email offline_access', code_challenge: challenge, code_challenge_method: 'S256', state: 's', ...extra })}`;
  const callback = await signIn(agent, authorize, { email: user.email, password });
  const response = await fetch(`${stack.provider.url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { access_token: string; refresh_token: string; id_token: string };
}

/** One direct sign-in attempt (a failure counts once against the login throttle). */
async function signsIn(password: string): Promise<boolean> {
  const agent = new BrowserAgent(stack.provider.url);
  await agent.get('/interaction/start?return_to=/');
  const response = await agent.postForm('/interaction/login', { csrf: await agent.csrf(), email: user.email, password, return_to: '/' });
  return location(response) === '/';
}

async function refresh(token: string): Promise<{ status: number; body: { error?: string } }> {
  const response = await fetch(`${stack.provider.url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId }),
  });
  return { status: response.status, body: await response.json() };
}

async function userinfo(accessToken: string) {
  return (await fetch(`${stack.provider.url}/oidc/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
}

async function submit(page: Page, testId: string, urlPattern: RegExp): Promise<void> {
  await Promise.all([page.waitForURL(urlPattern), page.getByTestId(testId).click()]);
}

describe('password reset and e-mail verification in a real browser, with a real SMTP server', () => {
  it('"Forgot password?" mails a link; following it sets a new password and kills old sessions and refresh tokens', async () => {
    // an old device: signed in, holding a refresh token
    const oldDevice = new BrowserAgent(stack.provider.url);
    const oldTokens = await signInWithTokens(oldDevice, user.password);
    secrets.push(oldTokens.refresh_token, oldTokens.access_token);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
    });
    await page.goto(`${stack.provider.url}/interaction/start?return_to=/`);
    await Promise.all([page.waitForURL(/\/forgot-password$/), page.getByTestId('forgot-password-link').click()]);
    const mark = smtp.inbox.length;
    await page.getByLabel('Email').fill(user.email.toUpperCase());
    await submit(page, 'forgot-submit', /\/forgot-password\?sent=1$/);
    expect(await page.getByTestId('reset-requested').textContent()).toContain('If an account uses that address');
    await screenshot(page, 'forgot-password-sent');

    const mail = await smtp.after(mark, user.email);
    expect(mail.subject).toBe('Reset your password');
    expect(mail.from?.text).toContain('idp@example.test');
    const link = linkIn(mail);
    expect(mail.html || '').toContain(link);
    secrets.push(link, new URL(link).searchParams.get('token')!);

    await page.goto(link);
    await page.waitForURL(/\/reset-password$/); // the token left the URL for the sealed cookie
    expect(await page.getByTestId('reset-user').textContent()).toBe(user.email);
    await page.getByLabel('New password', { exact: true }).fill('grace hopper');
    await page.getByLabel('Confirm new password').fill('grace hopper');
    await submit(page, 'reset-submit', /error=weak/);
    const newPassword = `nanosecond ${randomBytes(3).toString('hex')} wire bug moth`;
    secrets.push(newPassword);
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Confirm new password').fill(newPassword);
    await submit(page, 'reset-submit', /\/reset-password\?done=1$/);
    await screenshot(page, 'reset-done');

    // the old refresh token and the old session are dead
    expect(await refresh(oldTokens.refresh_token)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const silent = await oldDevice.get(
      `/oidc/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256', state: 'q', prompt: 'none' })}`,
    );
    const answer = new URL(location(silent));
    expect(`${answer.origin}${answer.pathname}`).toBe(REDIRECT);
    expect(answer.searchParams.get('error')).toBe('login_required');
    // the link is single use
    await page.goto(link);
    await page.waitForURL(/\/reset-password$/);
    expect(await page.getByTestId('reset-invalid').isVisible()).toBe(true);
    // the old password no longer works, the new one does
    expect(await signsIn(user.password)).toBe(false);
    const fresh = await signInWithTokens(new BrowserAgent(stack.provider.url), newPassword);
    secrets.push(fresh.access_token, fresh.refresh_token);
    expect(problems).toEqual([]);
    await context.close();
    user.password = newPassword;
  });

  it('an unknown address gets the very same answer and no mail', async () => {
    const answers = [];
    const mark = smtp.inbox.length;
    for (const email of [user.email, `nobody-${randomBytes(3).toString('hex')}@example.org`]) {
      const agent = new BrowserAgent(stack.provider.url);
      await agent.get('/interaction/forgot-password');
      const response = await agent.postForm('/interaction/forgot-password', { csrf: await agent.csrf(), email });
      answers.push({
        status: response.status,
        location: response.headers.get('location'),
        body: await response.text(),
        type: response.headers.get('content-type'),
      });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).toMatchObject({ status: 303, location: '/forgot-password?sent=1' });
    secrets.push(linkIn(await smtp.after(mark, user.email)));
    expect(smtp.inbox.slice(mark)).toHaveLength(1);
  });

  it('a verification link flips email_verified in userinfo', async () => {
    const tokens = await signInWithTokens(new BrowserAgent(stack.provider.url), user.password);
    secrets.push(tokens.access_token, tokens.refresh_token);
    expect(await userinfo(tokens.access_token)).toMatchObject({ sub: userId, email: user.email, email_verified: false });

    // an administrator resends the link from the shell (same database, same SMTP server)
    const lines: string[] = [];
    const mark = smtp.inbox.length;
    const config = loadConfig({
      DATABASE_URL: stack.databaseUrl,
      KEY_ENCRYPTION_SECRET,
      SESSION_SECRET,
      SMTP_URL: smtp.url,
      ISSUER_URL: stack.provider.url,
      LOG_LEVEL: 'silent',
    });
    expect(await runCli(['users:resend-verification', '--email', user.email], config, (line) => lines.push(line))).toBe(0);
    expect(lines.join('\n')).toContain('verification link mailed');
    const mail = await smtp.after(mark, user.email);
    expect(mail.subject).toBe('Confirm your e-mail address');
    const link = linkIn(mail);
    secrets.push(link, new URL(link).searchParams.get('token')!);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForURL(/\/verify-email$/);
    await submit(page, 'verify-submit', /\/verify-email\?done=1$/);
    await screenshot(page, 'email-verified');
    await context.close();
    await expect.poll(async () => (await userinfo(tokens.access_token)).email_verified, { timeout: 5_000 }).toBe(true);
  });

  it('no link, token or address in the audit rows, the mail queue or the logs; mail.sent is audited', async () => {
    await new Promise((resolve) => setTimeout(resolve, 600)); // the audit writer flushes every 200 ms
    const audit = await stack.store.db.query<{ action: string; user_id: string | null; details: Record<string, unknown> }>(
      `select action, user_id, details from identity.audit_logs`,
    );
    const actions = audit.map((row) => row.action);
    for (const action of [
      'auth.password_reset_requested',
      'auth.password_reset_completed',
      'auth.email_verification_sent',
      'auth.email_verified',
      'mail.sent',
    ]) {
      expect(actions, action).toContain(action);
    }
    expect(audit.find((row) => row.action === 'auth.password_reset_completed')).toMatchObject({
      user_id: userId,
      details: { sessions_ended: 1, refresh_tokens_revoked: 1 },
    });
    const everything =
      JSON.stringify(audit) +
      JSON.stringify(await stack.store.db.query('select * from identity.mail_queue')) +
      JSON.stringify(await stack.store.db.query('select * from identity.account_tokens')) +
      stack.provider.output();
    for (const secret of secrets) expect(everything.includes(secret), `leaked: ${secret.slice(0, 12)}...`).toBe(false);
    expect(everything).not.toContain(user.email);
    expect((await stack.store.mailQueue.counts()).sent).toBeGreaterThanOrEqual(3);
  });
});

describe('the development outbox in production', () => {
  it('/dev/outbox is a 404, and the missing SMTP_URL is a warning at start', async () => {
    const { startProvider } = await import('./support/server');
    const provider = await startProvider({
      NODE_ENV: 'production',
      SESSION_SECRET: randomBytes(48).toString('hex'),
      KEY_ENCRYPTION_SECRET: randomBytes(48).toString('hex'),
    });
    try {
      expect((await fetch(`${provider.url}/dev/outbox`)).status).toBe(404);
      expect(provider.output()).toContain('SMTP_URL is not set');
    } finally {
      await provider.stop();
    }
  });
});
