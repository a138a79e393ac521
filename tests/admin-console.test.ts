import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ADMIN_OPERATIONS } from '../apps/identity-provider/lib/admin/operations';
import { problemOutput } from '../apps/identity-provider/lib/admin/schemas';
import { signedInAgent } from './support/admin';
import { BrowserAgent, KEY_ENCRYPTION_SECRET, location, SESSION_SECRET, signIn, startStack, type Stack } from './support/oidc';
import { APP_DIR, startProvider } from './support/server';

/**
 * The admin console's API against the real server: who may call it (403 for a non-admin on every page and
 * route), CSRF and recent sign-in, and what each action does to the protocol, observed through
 * openid-client and the real login forms.
 */

const ADMIN = { email: 'console.admin@example.org', password: 'console-admin-password-1' };
const PLAIN = { email: 'plain.user@example.org', password: 'plain-user-password-1' };

export const ADMIN_PAGES = [
  '/admin',
  '/admin/clients',
  '/admin/clients/new',
  '/admin/users',
  '/admin/users/new',
  '/admin/sessions',
  '/admin/keys',
  '/admin/audit',
  '/admin/security',
];
const ZERO = '00000000-0000-4000-8000-000000000000';
export const ADMIN_GETS = [
  '/api/admin/overview',
  '/api/admin/openapi',
  '/api/admin/clients',
  '/api/admin/clients/x',
  '/api/admin/clients/x/families',
  '/api/admin/clients/x/failures',
  '/api/admin/users',
  `/api/admin/users/${ZERO}`,
  `/api/admin/users/${ZERO}/families`,
  `/api/admin/users/${ZERO}/consents`,
  `/api/admin/users/${ZERO}/events`,
  `/api/admin/users/${ZERO}/sessions`,
  '/api/admin/sessions',
  '/api/admin/keys',
  '/api/admin/security',
  `/api/admin/audit/events/${ZERO}`,
  '/api/admin/audit',
];
export const ADMIN_POSTS = [
  '/api/admin/clients',
  '/api/admin/clients/x',
  '/api/admin/clients/x/disable',
  '/api/admin/clients/x/delete',
  '/api/admin/clients/x/rotate-secret',
  `/api/admin/families/${ZERO}/revoke`,
  '/api/admin/users',
  `/api/admin/users/${ZERO}`,
  `/api/admin/users/${ZERO}/lock`,
  `/api/admin/users/${ZERO}/unlock`,
  `/api/admin/users/${ZERO}/force-password-change`,
  `/api/admin/users/${ZERO}/delete`,
  `/api/admin/users/${ZERO}/end-sessions`,
  `/api/admin/users/${ZERO}/consents/x/revoke`,
  '/api/admin/sessions/aaaaaaaaaaaaaaaaaaaaaaaa/end',
  '/api/admin/keys/rotate',
];

/** An admin's JSON call as the console makes it: same origin, the session's CSRF token. */
export async function adminCall(agent: BrowserAgent, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const init: RequestInit =
    body === undefined
      ? {}
      : {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json', origin: agent.base, 'x-csrf-token': await agent.csrf() },
        };
  const response = await agent.request(path, init);
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  // every answer in its documented shape: the operation's output, or the one problem shape
  if (response.status === 200) outputOf(body === undefined ? 'get' : 'post', path)?.parse(json);
  else if (response.status >= 400 && response.headers.get('content-type')?.includes('json')) problemOutput.parse(json);
  return { status: response.status, json };
}

/** The output schema of the admin operation a request path belongs to (lib/admin/operations.ts). */
function outputOf(method: 'get' | 'post', path: string): z.ZodType | undefined {
  const pathname = new URL(path, 'http://admin.local').pathname;
  const operation = Object.values(ADMIN_OPERATIONS).find(
    (op) => op.method === method && new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(pathname),
  );
  expect(operation, `${method} ${pathname} is an admin operation`).toBeDefined();
  return operation?.output;
}

describe('admin console API', () => {
  let stack: Stack;
  let admin: BrowserAgent;
  let plain: BrowserAgent;
  const redirect = 'http://127.0.0.1:9/cb';

  beforeAll(async () => {
    stack = await startStack({ ADMIN_REAUTH_SECONDS: '300' });
    await stack.store.users.create({ ...ADMIN, roles: ['admin'] });
    await stack.store.users.create(PLAIN);
    admin = await signedInAgent(stack, ADMIN.email, ADMIN.password);
    plain = await signedInAgent(stack, PLAIN.email, PLAIN.password);
  });
  afterAll(() => stack?.stop());

  const discover = (clientId: string, auth: client.ClientAuth) =>
    client.discovery(new URL(stack.provider.url), clientId, {}, auth, { execute: [client.allowInsecureRequests] });

  it('a signed-in non-admin gets 403 on every admin page and API route; nobody gets 401', async () => {
    for (const path of ADMIN_PAGES) expect((await plain.get(path)).status, path).toBe(403);
    for (const path of ADMIN_GETS) {
      const r = await plain.get(path);
      expect(r.status, path).toBe(403);
      expect((await r.json()).error, path).toBe('forbidden');
    }
    for (const path of ADMIN_POSTS) expect((await adminCall(plain, path, {})).status, path).toBe(403);
    for (const path of ADMIN_GETS) expect((await fetch(`${stack.provider.url}${path}`)).status, path).toBe(401);
  });

  it('changes need the same origin, JSON and the CSRF token', async () => {
    const body = JSON.stringify({ name: 'x', kind: 'confidential', grant_types: ['client_credentials'] });
    const csrf = await admin.csrf();
    const post = (headers: Record<string, string>) => admin.request('/api/admin/clients', { method: 'POST', body, headers });
    expect((await post({ 'content-type': 'application/json', origin: admin.base })).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', origin: 'https://evil.example', 'x-csrf-token': csrf })).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf })).status).toBe(403);
    expect((await post({ 'content-type': 'text/plain', origin: admin.base, 'x-csrf-token': csrf })).status).toBe(415);
    expect((await post({ 'content-type': 'application/json', origin: admin.base, 'x-csrf-token': csrf })).status).toBe(200);
  });

  it('refuses redirect URIs that OAuth 2.1 / RFC 8252 forbid, naming the field', async () => {
    for (const [kind, uri] of [
      ['confidential', 'javascript:alert(1)'],
      ['spa', 'https://app.example/cb#frag'],
      ['native', 'myapp:/cb'],
      ['native', 'http://app.example.org/cb'],
    ] as const) {
      const r = await adminCall(admin, '/api/admin/clients', { name: 'Bad', kind, redirect_uris: [uri] });
      expect(r.status, uri).toBe(400);
      expect(r.json).toMatchObject({ error: 'invalid_request', issues: [expect.objectContaining({ path: 'redirect_uris.0' })] });
    }
    const native = await adminCall(admin, '/api/admin/clients', {
      name: 'Native',
      kind: 'native',
      redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1/cb'],
    });
    expect(native.status).toBe(200);
    expect(native.json.client_secret).toBeNull();
  });

  it('create a client, use it (client_credentials), rotate its secret: the old one works during the grace period, then fails', async () => {
    const created = await adminCall(admin, '/api/admin/clients', {
      name: 'Billing service',
      kind: 'confidential',
      grant_types: ['client_credentials'],
      scopes: ['api.read'],
    });
    expect(created.status).toBe(200);
    const clientId = (created.json.client as { client_id: string }).client_id;
    const oldSecret = created.json.client_secret as string;
    const tokens = await client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(oldSecret)), { scope: 'api.read' });
    expect(tokens.access_token).toBeTruthy();

    const rotated = await adminCall(admin, `/api/admin/clients/${clientId}/rotate-secret`, { grace_seconds: 3 });
    expect(rotated.status).toBe(200);
    const newSecret = rotated.json.client_secret as string;
    expect(newSecret).not.toBe(oldSecret);
    const graceEnds = Date.parse(rotated.json.previous_secret_expires_at as string);
    await expect(client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(newSecret)), { scope: 'api.read' })).resolves.toHaveProperty(
      'access_token',
    );
    if (Date.now() < graceEnds - 500) {
      await expect(client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(oldSecret)), { scope: 'api.read' })).resolves.toHaveProperty(
        'access_token',
      );
    }
    // the grace period is the input of this call, not a production interval: poll until it is over
    await expect
      .poll(
        async () => {
          try {
            await client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(oldSecret)), { scope: 'api.read' });
            return 'accepted';
          } catch (error) {
            // client_secret_basic refused: 401 with a Basic challenge (invalid_client)
            return (error as { status?: number }).status;
          }
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe(401);
    expect(Date.now()).toBeGreaterThanOrEqual(graceEnds);

    // disabled: unknown to the token endpoint; the audit trail names the admin and the target
    expect((await adminCall(admin, `/api/admin/clients/${clientId}/disable`, { disabled: true })).status).toBe(200);
    await expect(client.clientCredentialsGrant(await discover(clientId, client.ClientSecretBasic(newSecret)), { scope: 'api.read' })).rejects.toMatchObject({
      status: 401,
    });
    await expect
      .poll(
        async () => {
          const audit = await adminCall(admin, `/api/admin/audit?action=admin.client.*&client_id=${clientId}`);
          return (audit.json.entries as { action: string; details: Record<string, unknown> }[] | undefined)
            ?.map((e) => `${e.action}:${e.details.target_id === clientId}:${typeof e.details.admin_id}`)
            .sort();
        },
        { timeout: 10_000 },
      )
      .toEqual(['admin.client.created:true:string', 'admin.client.disabled:true:string', 'admin.client.secret_rotated:true:string']);
    const secretsInAudit = JSON.stringify((await adminCall(admin, `/api/admin/audit?client_id=${clientId}`)).json);
    expect(secretsInAudit).not.toContain(oldSecret);
    expect(secretsInAudit).not.toContain(newSecret);

    // the count is shown before deleting; deleting answers 404 afterwards
    expect((await adminCall(admin, `/api/admin/clients/${clientId}`)).json.counts).toEqual({ live_families: 0, live_refresh_tokens: 0, consents: 0 });
    expect((await adminCall(admin, `/api/admin/clients/${clientId}/delete`, {})).status).toBe(200);
    expect((await adminCall(admin, `/api/admin/clients/${clientId}`)).status).toBe(404);
  });

  it('lock a user: sign-in refused with the generic answer; unlock: accepted again', async () => {
    const created = await adminCall(admin, '/api/admin/users', { email: 'locked.user@example.org', password: 'locked-user-password-1' });
    expect(created.status).toBe(200);
    const userId = (created.json.user as { id: string }).id;
    const login = async () => {
      const agent = new BrowserAgent(stack.provider.url);
      await agent.get('/interaction/start?return_to=/');
      return agent.postForm('/interaction/login', {
        email: 'locked.user@example.org',
        password: 'locked-user-password-1',
        return_to: '/',
        csrf: await agent.csrf(),
      });
    };
    expect(location(await login())).toBe('/');
    const locked = await adminCall(admin, `/api/admin/users/${userId}/lock`, {});
    expect(locked.status).toBe(200);
    expect(locked.json).toMatchObject({ sessions_ended: 1, user: { locked: true } });
    expect(location(await login())).toContain('error=invalid_credentials');
    expect((await adminCall(admin, `/api/admin/users/${userId}/unlock`, {})).status).toBe(200);
    expect(location(await login())).toBe('/');
    await expect
      .poll(
        async () => {
          const events = await adminCall(admin, `/api/admin/users/${userId}/events`);
          return (events.json.items as { action: string; details: { reason?: string } }[]).some(
            (e) => e.action === 'auth.login_failed' && e.details.reason === 'account_locked',
          );
        },
        { timeout: 10_000 },
      )
      .toBe(true);
  });

  it('ending a session makes prompt=none answer login_required; destructive actions need a recent sign-in', async () => {
    const spa = await adminCall(admin, '/api/admin/clients', { name: 'SPA', kind: 'spa', redirect_uris: [redirect], first_party: true });
    const clientId = (spa.json.client as { client_id: string }).client_id;
    const config = await discover(clientId, client.None());
    const authorize = async (extra: Record<string, string> = {}) =>
      client
        .buildAuthorizationUrl(config, {
          redirect_uri: redirect,
          scope: 'openid',
          state: 's',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          ...extra,
        })
        .toString();
    const user = new BrowserAgent(stack.provider.url);
    expect((await signIn(user, await authorize(), PLAIN)).searchParams.get('code')).toBeTruthy();
    expect(new URL(location(await user.get(await authorize({ prompt: 'none' })))).searchParams.get('code')).toBeTruthy();

    const sessions = await adminCall(admin, `/api/admin/sessions?q=${encodeURIComponent(PLAIN.email)}`);
    const items = sessions.json.items as { sid: string }[];
    expect(items.length).toBeGreaterThanOrEqual(1);
    // an admin whose sign-in is older than ADMIN_REAUTH_SECONDS must sign in again first
    await stack.store.db.query(
      `update identity.sessions s set auth_time = now() - interval '1 hour' from identity.users u where u.id = s.user_id and u.email = $1`,
      [ADMIN.email],
    );
    const stale = await adminCall(admin, `/api/admin/sessions/${items[0].sid}/end`, {});
    expect(stale.status).toBe(401);
    expect(stale.json).toMatchObject({ error: 'reauthentication_required', reauth_url: expect.stringMatching(/^\/login\?return_to=%2Fadmin/) });
    admin = await signedInAgent(stack, ADMIN.email, ADMIN.password);
    for (const s of items) expect((await adminCall(admin, `/api/admin/sessions/${s.sid}/end`, {})).status).toBe(200);
    const silent = new URL(location(await user.get(await authorize({ prompt: 'none' }))));
    expect(silent.searchParams.get('error')).toBe('login_required');
  });

  it('a real code replay is a security event, with its evidence and related events', async () => {
    const spa = await adminCall(admin, '/api/admin/clients', { name: 'Replayed', kind: 'spa', redirect_uris: [redirect], first_party: true });
    const clientId = (spa.json.client as { client_id: string }).client_id;
    const config = await discover(clientId, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'openid offline_access',
      state: 's',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await signIn(new BrowserAgent(stack.provider.url), url.toString(), PLAIN);
    await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' })).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    let replay: { event_id: string; details: { family_id: string } } | undefined;
    await expect
      .poll(
        async () => {
          const events = await adminCall(admin, '/api/admin/security?kind=replay');
          replay = (events.json.items as (typeof replay)[]).find((e) => e && (e as unknown as { client_id: string }).client_id === clientId);
          return !!replay;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    const detail = await adminCall(admin, `/api/admin/audit/events/${replay!.event_id}`);
    expect(detail.status).toBe(200);
    const related = (detail.json.related as { action: string }[]).map((e) => e.action);
    expect(related).toEqual(expect.arrayContaining(['token.issued.authorization_code', 'security.suspicious']));
    expect(JSON.stringify(detail.json)).not.toContain(callback.searchParams.get('code')!);
  });

  it('validation errors are 400s in the one error shape; unknown ids are 404s', async () => {
    const bad = await adminCall(admin, '/api/admin/clients?limit=9999');
    expect(bad).toMatchObject({ status: 400, json: { error: 'invalid_request', message: expect.stringContaining('limit') } });
    expect((await adminCall(admin, '/api/admin/clients?cursor=nonsense')).status).toBe(400);
    expect((await adminCall(admin, '/api/admin/users/not-a-uuid')).status).toBe(404);
    expect((await adminCall(admin, `/api/admin/users/${ZERO}`)).status).toBe(404);
    expect((await adminCall(admin, '/api/admin/users', { email: 'not an email' })).status).toBe(400);
    const page1 = await adminCall(admin, '/api/admin/clients?limit=1');
    expect(page1.json.next_cursor).toEqual(expect.any(String));
    const page2 = await adminCall(admin, `/api/admin/clients?limit=1&cursor=${page1.json.next_cursor}`);
    expect((page2.json.items as { client_id: string }[])[0].client_id).not.toBe((page1.json.items as { client_id: string }[])[0].client_id);
  });
});

describe('admin CLI while the server runs on the embedded database', () => {
  it('registers a client through the running server; the client works at once', async () => {
    const provider = await startProvider({ SESSION_SECRET, KEY_ENCRYPTION_SECRET });
    try {
      const socket = join(provider.dataDir, 'run', 'admin.sock');
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(statSync(join(provider.dataDir, 'run')).mode & 0o777).toBe(0o700);
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'cli/idp.ts', ...args], {
          cwd: APP_DIR,
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            ...process.env,
            DATA_DIR: provider.dataDir,
            SESSION_SECRET,
            KEY_ENCRYPTION_SECRET,
            DATABASE_URL: '',
            NODE_ENV: '',
            ISSUER_URL: provider.url,
            LOG_LEVEL: 'warn',
          },
        });
      const created = cli('clients:create', '--name', 'From the shell', '--grant', 'client_credentials', '--scope', 'api.read');
      expect(created.status, created.stderr + created.stdout).toBe(0);
      const clientId = /client_id: (\S+)/.exec(created.stdout)![1];
      const secret = /client_secret \(shown once, stored hashed\): (\S+)/.exec(created.stdout)![1];
      const config = await client.discovery(new URL(provider.url), clientId, {}, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
      await expect(client.clientCredentialsGrant(config, { scope: 'api.read' })).resolves.toHaveProperty('access_token');

      const listed = cli('clients:list');
      expect(listed.status).toBe(0);
      expect(listed.stdout).toContain(clientId);
      const rotated = cli('clients:rotate-secret', `--client-id=${clientId}`);
      expect(rotated.status, rotated.stdout).toBe(0);
      await expect(client.clientCredentialsGrant(config, { scope: 'api.read' })).rejects.toMatchObject({ status: 401 });
      const bad = cli('clients:create', '--name', 'Bad', '--redirect-uri', 'javascript:alert(1)');
      expect(bad.status).toBe(65);
      expect(bad.stdout).toContain('javascript:');
    } finally {
      await provider.stop();
    }
  });
});
