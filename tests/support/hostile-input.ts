import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInAgent } from './admin';
import { BrowserAgent, startStack, type Stack } from './oidc';

/**
 * Property-based hostile input (issue #12, item 10): generated values (NUL and other control characters,
 * huge and malformed strings, prototype keys, out-of-range dates and integers, zone-id IPs, percent junk,
 * repeated parameters) at every parameter of every endpoint of a running server. Each answer must be
 * below 500, in the endpoint's documented shape, without a stack trace, and the server must go on serving.
 * To cover a new endpoint, add a row to ENDPOINTS. A failure prints fast-check's seed and the shrunk input.
 * Two test files share the endpoints (tests/hostile-input*.test.ts), each on a server of its own, so the
 * halves run side by side.
 */

type Kind = 'oauth' | 'api' | 'page';
export interface Endpoint {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  params: string[];
  kind: Kind;
  /** Who calls: nobody, an admin's browser, a plain browser session, a confidential client (Basic), a signed-in user, a sign-in waiting for its second factor. */
  as?: 'admin' | 'browser' | 'client' | 'user' | 'mfa';
  /** A JSON body (the account and admin APIs, the WebAuthn and security calls): the parameters as members (names ending in [] as arrays), JSON-looking values sent parsed, the session's CSRF token also in X-CSRF-Token. */
  json?: boolean;
  /** Parameters always sent with a valid value, so the generated ones reach deeper steps. */
  fixed?: (ctx: Context) => Promise<Record<string, string>> | Record<string, string>;
}
interface Context {
  browser: BrowserAgent;
  clientId: string;
  user: BrowserAgent;
  mfa: BrowserAgent;
}

const AUTHORIZE = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'resource',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'claims',
  'acr_values',
  'request',
  'request_uri',
  'response_mode',
];
const TOKEN = ['grant_type', 'client_id', 'client_secret', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'resource', 'audience'];
const ANALYTICS = ['range', 'start', 'end', 'client_id', 'user_id', 'audience'];
const ADMIN_PAGE = ['q', 'cursor', 'limit'];

const ENDPOINTS: Endpoint[] = [
  { name: 'discovery', method: 'GET', path: '/.well-known/openid-configuration', params: ['x'], kind: 'oauth' },
  { name: 'jwks', method: 'GET', path: '/oidc/jwks', params: ['kid'], kind: 'oauth' },
  { name: 'authorize (GET)', method: 'GET', path: '/oidc/authorize', params: AUTHORIZE, kind: 'page', as: 'browser' },
  { name: 'authorize (POST)', method: 'POST', path: '/oidc/authorize', params: AUTHORIZE, kind: 'page', as: 'browser' },
  {
    name: 'authorize, known client',
    method: 'GET',
    path: '/oidc/authorize',
    params: AUTHORIZE.slice(2),
    kind: 'page',
    as: 'browser',
    fixed: (c) => ({ client_id: c.clientId, redirect_uri: 'http://127.0.0.1:9/cb', response_type: 'code' }),
  },
  { name: 'authorize resume', method: 'GET', path: '/oidc/authorize/resume', params: ['interaction'], kind: 'page', as: 'browser' },
  { name: 'token', method: 'POST', path: '/oidc/token', params: TOKEN, kind: 'oauth' },
  {
    name: 'token, authenticated client',
    method: 'POST',
    path: '/oidc/token',
    params: TOKEN.filter((p) => p !== 'client_id' && p !== 'client_secret'),
    kind: 'oauth',
    as: 'client',
  },
  {
    name: 'token per grant',
    method: 'POST',
    path: '/oidc/token',
    params: TOKEN.slice(1),
    kind: 'oauth',
    as: 'client',
    fixed: () => ({ grant_type: fc.sample(fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials'), 1)[0] }),
  },
  { name: 'userinfo (POST)', method: 'POST', path: '/oidc/userinfo', params: ['access_token'], kind: 'oauth' },
  { name: 'introspection', method: 'POST', path: '/oidc/introspect', params: ['token', 'token_type_hint'], kind: 'oauth', as: 'client' },
  { name: 'revocation', method: 'POST', path: '/oidc/revoke', params: ['token', 'token_type_hint'], kind: 'oauth', as: 'client' },
  {
    name: 'end-session',
    method: 'GET',
    path: '/oidc/end-session',
    params: ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'ui_locales'],
    kind: 'page',
    as: 'browser',
  },
  { name: 'sign-in start', method: 'GET', path: '/interaction/start', params: ['return_to'], kind: 'page', as: 'browser' },
  // a direct sign-in (return_to) so that each field reaches the account lookup
  {
    name: 'login form',
    method: 'POST',
    path: '/interaction/login',
    params: ['interaction', 'email', 'password', 'return_to'],
    kind: 'page',
    as: 'browser',
    fixed: async (c) => ({ csrf: await c.browser.csrf(), return_to: '/', email: 'nobody@example.org', password: 'not-the-password-1' }),
  },
  { name: 'login form, any csrf', method: 'POST', path: '/interaction/login', params: ['csrf', 'email', 'return_to'], kind: 'page', as: 'browser' },
  {
    name: 'consent form',
    method: 'POST',
    path: '/interaction/consent',
    params: ['interaction', 'decision'],
    kind: 'page',
    as: 'browser',
    fixed: async (c) => ({ csrf: await c.browser.csrf() }),
  },
  {
    name: 'password form',
    method: 'POST',
    path: '/interaction/password',
    params: ['interaction', 'current_password', 'new_password', 'confirm_password', 'return_to'],
    kind: 'page',
    as: 'browser',
    fixed: async (c) => ({ csrf: await c.browser.csrf() }),
  },
  { name: 'logout form', method: 'POST', path: '/interaction/logout', params: ['csrf'], kind: 'page', as: 'browser' },
  { name: 'forgot-password start', method: 'GET', path: '/interaction/forgot-password', params: ['x'], kind: 'page', as: 'browser' },
  {
    name: 'forgot-password form',
    method: 'POST',
    path: '/interaction/forgot-password',
    params: ['email', 'interaction'],
    kind: 'page',
    as: 'browser',
    fixed: async (c) => ({ csrf: await c.browser.csrf() }),
  },
  { name: 'forgot-password form, any csrf', method: 'POST', path: '/interaction/forgot-password', params: ['csrf', 'email'], kind: 'page', as: 'browser' },
  { name: 'reset link', method: 'GET', path: '/interaction/reset-link', params: ['token'], kind: 'page', as: 'browser' },
  {
    name: 'reset form',
    method: 'POST',
    path: '/interaction/reset-password',
    params: ['new_password', 'confirm_password', 'second_factor'],
    kind: 'page',
    as: 'browser',
    fixed: async (c) => ({ csrf: await c.browser.csrf() }),
  },
  { name: 'verification link', method: 'GET', path: '/interaction/verify-link', params: ['token'], kind: 'page', as: 'browser' },
  { name: 'verification form', method: 'POST', path: '/interaction/verify-email', params: ['csrf', 'x'], kind: 'page', as: 'browser' },
  { name: 'forgot-password page', method: 'GET', path: '/forgot-password', params: ['sent', 'error'], kind: 'page', as: 'browser' },
  { name: 'reset page', method: 'GET', path: '/reset-password', params: ['error', 'done'], kind: 'page', as: 'browser' },
  { name: 'verification page', method: 'GET', path: '/verify-email', params: ['error', 'done'], kind: 'page', as: 'browser' },
  { name: 'dev outbox', method: 'GET', path: '/dev/outbox', params: ['x'], kind: 'page', as: 'browser' },
  // second factors and passkeys
  {
    name: 'second-factor form',
    method: 'POST',
    path: '/interaction/mfa',
    params: ['code', 'interaction', 'return_to'],
    kind: 'page',
    as: 'mfa',
    fixed: async (c) => ({ csrf: await c.mfa.csrf(), code: '123456' }),
  },
  {
    name: 'second-factor form, no sign-in pending',
    method: 'POST',
    path: '/interaction/mfa',
    params: ['csrf', 'code', 'interaction'],
    kind: 'page',
    as: 'browser',
  },
  { name: 'step-up start', method: 'GET', path: '/interaction/step-up', params: ['return_to', 'acr'], kind: 'page', as: 'user' },
  {
    name: 'webauthn options',
    method: 'POST',
    path: '/interaction/webauthn/options',
    params: ['purpose', 'csrf'],
    kind: 'api',
    as: 'user',
    json: true,
    fixed: async (c) => ({ csrf: await c.user.csrf(), purpose: 'register' }),
  },
  {
    name: 'webauthn options, anonymous',
    method: 'POST',
    path: '/interaction/webauthn/options',
    params: ['purpose'],
    kind: 'api',
    as: 'browser',
    json: true,
    fixed: async (c) => ({ csrf: await c.browser.csrf() }),
  },
  {
    name: 'webauthn authenticate',
    method: 'POST',
    path: '/interaction/webauthn/authenticate',
    params: ['purpose', 'response', 'interaction', 'return_to'],
    kind: 'api',
    as: 'browser',
    json: true,
    fixed: async (c) => ({ csrf: await c.browser.csrf(), purpose: 'passwordless', return_to: '/', response: WEBAUTHN_RESPONSE }),
  },
  {
    name: 'webauthn authenticate, second factor',
    method: 'POST',
    path: '/interaction/webauthn/authenticate',
    params: ['response'],
    kind: 'api',
    as: 'mfa',
    json: true,
    fixed: async (c) => ({ csrf: await c.mfa.csrf(), purpose: 'second_factor', response: WEBAUTHN_RESPONSE }),
  },
  ...['totp/begin', 'totp/confirm', 'totp/remove', 'recovery-codes', 'passkeys/register', 'passkeys/rename', 'passkeys/remove'].map((call): Endpoint => ({
    name: `security ${call}`,
    method: 'POST',
    path: `/interaction/security/${call}`,
    params: ['csrf', 'code', 'id', 'name', 'response'],
    kind: 'api',
    as: 'user',
    json: true,
    fixed: async (c) => ({ csrf: await c.user.csrf(), ...(call === 'passkeys/register' ? { response: WEBAUTHN_RESPONSE } : {}) }),
  })),
  {
    name: 'admin audit',
    method: 'GET',
    path: '/api/admin/audit',
    params: ['start', 'end', 'user_id', 'client_id', 'action', 'ip', 'limit', 'cursor', 'format'],
    kind: 'api',
    as: 'admin',
  },
  {
    name: 'analytics',
    method: 'GET',
    path: '/api/analytics/tokens',
    params: [...ANALYTICS, 'tz', 'bucket', 'top', 'activity_limit'],
    kind: 'api',
    as: 'admin',
  },
  { name: 'analytics activity', method: 'GET', path: '/api/analytics/tokens/activity', params: [...ANALYTICS, 'limit', 'cursor'], kind: 'api', as: 'admin' },
  // the account API as a signed-in user (the admin's browser): JSON bodies with the CSRF header reach zod
  { name: 'account profile', method: 'POST', path: '/api/account/profile', params: ['name', 'email', '__proto__'], kind: 'api', as: 'admin', json: true },
  {
    name: 'account password',
    method: 'POST',
    path: '/api/account/password',
    params: ['current_password', 'new_password', 'confirm_password'],
    kind: 'api',
    as: 'admin',
    json: true,
  },
  {
    name: 'account end session',
    method: 'POST',
    path: '/api/account/sessions/end',
    params: ['session_id', 'all_others'],
    kind: 'api',
    as: 'admin',
    json: true,
  },
  { name: 'account revoke app', method: 'POST', path: '/api/account/apps/revoke', params: ['client_id'], kind: 'api', as: 'admin', json: true },
  { name: 'account activity', method: 'GET', path: '/api/account/activity', params: ['limit', 'cursor'], kind: 'api', as: 'admin' },
  { name: 'account sessions', method: 'GET', path: '/api/account/sessions', params: ['x'], kind: 'api', as: 'admin' },
  { name: 'account apps', method: 'GET', path: '/api/account/apps', params: ['x'], kind: 'api', as: 'admin' },
  // the admin console's API (lib/admin/route.ts): query strings, path ids ({id}) and JSON bodies
  { name: 'admin clients', method: 'GET', path: '/api/admin/clients', params: ADMIN_PAGE, kind: 'api', as: 'admin' },
  { name: 'admin users', method: 'GET', path: '/api/admin/users', params: ADMIN_PAGE, kind: 'api', as: 'admin' },
  { name: 'admin sessions', method: 'GET', path: '/api/admin/sessions', params: ADMIN_PAGE, kind: 'api', as: 'admin' },
  { name: 'admin security', method: 'GET', path: '/api/admin/security', params: ['cursor', 'limit', 'kind'], kind: 'api', as: 'admin' },
  { name: 'admin overview and keys', method: 'GET', path: '/api/admin/overview', params: ['x'], kind: 'api', as: 'admin' },
  { name: 'admin client by id', method: 'GET', path: '/api/admin/clients/{id}/families', params: ['id', ...ADMIN_PAGE], kind: 'api', as: 'admin' },
  { name: 'admin user by id', method: 'GET', path: '/api/admin/users/{id}/events', params: ['id', ...ADMIN_PAGE], kind: 'api', as: 'admin' },
  { name: 'admin audit event', method: 'GET', path: '/api/admin/audit/events/{id}', params: ['id'], kind: 'api', as: 'admin' },
  {
    name: 'admin create client',
    method: 'POST',
    json: true,
    path: '/api/admin/clients',
    params: [
      'name',
      'kind',
      'client_id',
      'redirect_uris[]',
      'post_logout_redirect_uris[]',
      'grant_types[]',
      'scopes[]',
      'token_endpoint_auth_method',
      'id_token_signed_response_alg',
      'first_party',
    ],
    kind: 'api',
    as: 'admin',
    fixed: () => ({ name: 'Hostile', kind: 'confidential' }),
  },
  {
    name: 'admin edit client',
    method: 'POST',
    json: true,
    path: '/api/admin/clients/{id}',
    params: ['id', 'name', 'redirect_uris[]', 'scopes[]', 'grant_types[]'],
    kind: 'api',
    as: 'admin',
  },
  {
    name: 'admin rotate secret',
    method: 'POST',
    json: true,
    path: '/api/admin/clients/{id}/rotate-secret',
    params: ['id', 'grace_seconds'],
    kind: 'api',
    as: 'admin',
  },
  {
    name: 'admin create user',
    method: 'POST',
    json: true,
    path: '/api/admin/users',
    params: ['email', 'name', 'roles[]', 'password'],
    kind: 'api',
    as: 'admin',
  },
  { name: 'admin edit user', method: 'POST', json: true, path: '/api/admin/users/{id}', params: ['id', 'email', 'name', 'roles[]'], kind: 'api', as: 'admin' },
  { name: 'admin lock user', method: 'POST', json: true, path: '/api/admin/users/{id}/lock', params: ['id', 'duration_seconds'], kind: 'api', as: 'admin' },
  { name: 'admin revoke consent', method: 'POST', json: true, path: '/api/admin/users/{id}/consents/{id}/revoke', params: ['id'], kind: 'api', as: 'admin' },
  { name: 'admin end session', method: 'POST', json: true, path: '/api/admin/sessions/{id}/end', params: ['id', 'x'], kind: 'api', as: 'admin' },
  { name: 'admin rotate key', method: 'POST', json: true, path: '/api/admin/keys/rotate', params: ['alg'], kind: 'api', as: 'admin' },
  { name: 'health', method: 'GET', path: '/api/health', params: ['x'], kind: 'api' },
  { name: 'readiness', method: 'GET', path: '/api/health/ready', params: ['x'], kind: 'api' },
  { name: 'metrics', method: 'GET', path: '/metrics', params: ['name[]'], kind: 'api' },
];

/** A well-formed but forged passkey assertion: reaches the challenge lookup and the verifier. */
const WEBAUTHN_RESPONSE = {
  id: 'AAAA',
  rawId: 'AAAA',
  type: 'public-key',
  clientExtensionResults: {},
  response: {
    clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 'Zm9v', origin: 'http://x' })).toString('base64url'),
    authenticatorData: 'AAAA',
    signature: 'AAAA',
    attestationObject: 'AAAA',
  },
} as unknown as string;

/** Values an attacker tries first: each is sent alone at every parameter of every endpoint. */
const ATTACKS = [
  '\u0000',
  'a\u0000b',
  '\u0001\u001f\u007f',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '%00',
  '%ZZ',
  '%',
  '%%32%65',
  '0000-01-01T00:00:00Z',
  '99999-12-31T23:59:59Z',
  '2026-02-30T25:61:61Z',
  '1970-01-01T00:00:00+99:99',
  'fe80::1%eth0',
  '::ffff:999.1.1.1',
  '9223372036854775808',
  '18446744073709551616',
  '-1',
  '0',
  '1e309',
  'NaN',
  'Infinity',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; drop table identity.users; --",
  'javascript:alert(1)',
  '//evil.example/',
  '/\t/evil.example/',
  '\r\nLocation: //evil.example',
  '\uFFFF',
  '\uD800',
  'x'.repeat(5000),
  'é'.repeat(3000),
  '{"a":',
  '[]',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'Basic Og==',
  Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 2 ** 63])).toString('base64url'),
  Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000000Z', 1])).toString('base64url'),
];

/** Then generated combinations around them. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ATTACKS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 40 }).map((s) => Buffer.from(JSON.stringify([s, 2 ** 63])).toString('base64url')) },
);

/** Some of an endpoint's parameters, each with a hostile value, sometimes one of them repeated. */
const inputsFor = (params: string[]) =>
  fc.record({
    values: fc
      .uniqueArray(fc.constantFrom(...params), { minLength: 1, maxLength: Math.min(params.length, 6) })
      .chain((names) => fc.tuple(...names.map((name) => hostile.map((value) => [name, value] as [string, string])))),
    repeat: fc.boolean(),
  });

const STACK_TRACE = /\n\s+at\s.+:\d+:\d+|node_modules|\/apps\/identity-provider\/|webpack-internal/;

/** The suite over the endpoints `select` picks; `requestLines` adds the raw request-line cases. */
export function describeHostileInput(title: string, select: (endpoint: Endpoint) => boolean, options: { requestLines?: boolean } = {}): void {
  describe(title, () => {
    let stack: Stack;
    let admin: BrowserAgent;
    let browser: BrowserAgent;
    let basic: string;
    let ctx: Context;

    beforeAll(async () => {
      // limits off: every generated login must reach the account lookup, not stop at a 429
      stack = await startStack({
        ADMIN_REAUTH_SECONDS: '86400',
        RATE_LIMIT_LOGIN_PER_IP: '0/900',
        RATE_LIMIT_LOGIN_PER_ACCOUNT: '0/900',
        RATE_LIMIT_TOKEN_PER_IP: '0/60',
        RATE_LIMIT_TOKEN_PER_CLIENT: '0/60',
        RATE_LIMIT_PASSWORD_CHANGE: '0/900',
        RATE_LIMIT_PASSWORD_RESET_PER_IP: '0/3600',
        RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT: '0/3600',
      });
      const adminUser = { email: 'hostile.admin@example.org', password: 'hostile-admin-password-1' };
      await stack.store.users.create({ ...adminUser, roles: ['admin'] });
      admin = await signedInAgent(stack, adminUser.email, adminUser.password);
      browser = new BrowserAgent(stack.provider.url);
      await browser.get('/interaction/start?return_to=/');
      const rp = await stack.store.clients.create({
        name: 'RP',
        redirectUris: ['http://127.0.0.1:9/cb'],
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        scopes: ['openid', 'api'],
      });
      basic = `Basic ${Buffer.from(`${rp.client.clientId}:${rp.clientSecret}`).toString('base64')}`;
      // a signed-in user (the security calls) and a sign-in waiting for its second factor (a user with TOTP)
      const plain = { email: 'hostile.user@example.org', password: 'hostile-user-password-1' };
      await stack.store.users.create(plain);
      const user = await signedInAgent(stack, plain.email, plain.password);
      const withTotp = { email: 'hostile.mfa@example.org', password: 'hostile-mfa-password-1' };
      const totpUser = await stack.store.users.create(withTotp);
      await stack.store.authenticators.beginTotp(totpUser.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
      await stack.store.authenticators.acceptTotpStep(totpUser.id, 1, { confirm: true, now: new Date() });
      const mfa = new BrowserAgent(stack.provider.url);
      await mfa.get('/interaction/start?return_to=/');
      const pending = await mfa.postForm('/interaction/login', { email: withTotp.email, password: withTotp.password, csrf: await mfa.csrf(), return_to: '/' });
      expect(pending.headers.get('location')).toMatch(/^\/mfa\?/);
      ctx = { browser, clientId: rp.client.clientId, user, mfa };
    });
    afterAll(() => stack?.stop());

    async function send(endpoint: Endpoint, given: [string, string][]): Promise<Response> {
      // a path id: the value goes (encoded) into the path
      const id = given.find(([name]) => name === 'id')?.[1] ?? 'x';
      // percent-encoded UTF-8 bytes (a lone surrogate becomes U+FFFD, as a browser would send it)
      const encoded = [...Buffer.from(id, 'utf8')]
        .map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`))
        .join('');
      const path = endpoint.path.replaceAll('{id}', encoded || 'x');
      const pairs = endpoint.path.includes('{id}') ? given.filter(([name]) => name !== 'id') : given;
      if (endpoint.json && endpoint.path.startsWith('/api/admin/')) {
        // the admin console's shape: names ending in [] are arrays, *_seconds numbers
        const body: Record<string, unknown> = {};
        for (const [name, value] of pairs) {
          if (name.endsWith('[]')) ((body[name.slice(0, -2)] ??= []) as string[]).push(value);
          else body[name] = /^-?\d+$/.test(value) && name.endsWith('seconds') ? Number(value) : value;
        }
        return admin.request(path, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json', origin: stack.provider.url, 'x-csrf-token': await admin.csrf() },
        });
      }
      const search = new URLSearchParams(pairs);
      const agent =
        endpoint.as === 'admin' ? admin : endpoint.as === 'browser' ? browser : endpoint.as === 'user' ? ctx.user : endpoint.as === 'mfa' ? ctx.mfa : null;
      const headers: Record<string, string> = endpoint.as === 'client' ? { authorization: basic } : {};
      const jsonValue = (value: unknown) => {
        if (typeof value !== 'string') return value;
        try {
          return JSON.parse(value);
        } catch {
          return value;
        }
      };
      const init: RequestInit = endpoint.json
        ? {
            method: 'POST',
            body: JSON.stringify(Object.fromEntries(pairs.map(([name, value]) => [name, name === 'csrf' ? value : jsonValue(value)]))),
            headers: { ...headers, 'content-type': 'application/json', 'x-csrf-token': await agent!.csrf() },
          }
        : endpoint.method === 'POST'
          ? { method: 'POST', body: search.toString(), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } }
          : { method: 'GET', headers };
      const url = endpoint.method === 'GET' ? `${path}?${search}` : path;
      return agent ? agent.request(url, init) : fetch(new URL(url, stack.provider.url), { ...init, redirect: 'manual' });
    }

    async function expectWellFormed(endpoint: Endpoint, response: Response, input: unknown) {
      const text = await response.text();
      const where = `${endpoint.name} ${JSON.stringify(input).slice(0, 300)} -> ${response.status} ${text.slice(0, 200)}`;
      expect(response.status, where).toBeLessThan(500);
      expect(text, where).not.toMatch(STACK_TRACE);
      const type = response.headers.get('content-type') ?? '';
      if (response.status >= 400 && endpoint.kind !== 'page' && type.includes('json')) {
        expect(typeof JSON.parse(text).error, where).toBe('string');
      }
      // (Node itself answers an oversized request line 431 with no body: nothing to check there)
      if (endpoint.kind === 'page' && response.status >= 400 && text) expect(type, where).toMatch(/text\/html|application\/json/);
    }

    it.each(ENDPOINTS.filter(select).map((e) => [e.name, e] as const))('%s', async (_name, endpoint) => {
      // every known attack at every parameter, alone
      for (const name of endpoint.params) {
        for (const value of ATTACKS) {
          const pairs: [string, string][] = [...Object.entries((await endpoint.fixed?.(ctx)) ?? {}).filter(([n]) => n !== name), [name, value]];
          await expectWellFormed(endpoint, await send(endpoint, pairs), pairs);
        }
      }
      // then generated combinations, repeated parameters among them
      await fc.assert(
        fc.asyncProperty(inputsFor(endpoint.params), async ({ values, repeat }) => {
          const fixed = Object.entries((await endpoint.fixed?.(ctx)) ?? {}).filter(([name]) => !values.some(([v]) => v === name));
          const pairs: [string, string][] = [...fixed, ...values];
          if (repeat) pairs.push(values[0]);
          await expectWellFormed(endpoint, await send(endpoint, pairs), pairs);
        }),
        { numRuns: 30, seed: Number(process.env.HOSTILE_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
      );
      // still serving after the batch
      expect((await fetch(`${stack.provider.url}/.well-known/openid-configuration`)).status).toBe(200);
    });

    if (options.requestLines)
      it('odd request lines: OPTIONS *, absolute-form targets, unknown methods, NUL and prototype names in paths', async () => {
        const raw = (method: string, path: string) =>
          new Promise<{ status: number; body: string }>((ok, fail) => {
            const req = httpRequest({ host: '127.0.0.1', port: stack.provider.port, method, path }, (res) => {
              let body = '';
              res.on('data', (c) => (body += c));
              res.on('end', () => ok({ status: res.statusCode!, body }));
            });
            req.on('error', fail);
            req.end();
          });
        const cases: [string, string][] = [
          ['OPTIONS', '*'],
          ['GET', '*'],
          ['GET', `http://127.0.0.1:${stack.provider.port}/oidc/jwks`],
          ['PROPFIND', '/oidc/token'],
          ['DELETE', '/oidc/authorize'],
          ['GET', '/oidc/token%00'],
          ['GET', '/constructor'],
          ['GET', '/__proto__'],
          ['GET', '/oidc/%E0%A4%A'],
          ['TRACE', '/'],
          ['GET', '/api/admin/audit/%00'],
        ];
        for (const [method, path] of cases) {
          const { status, body } = await raw(method, path);
          expect(status, `${method} ${path}`).toBeLessThan(500);
          expect(body, `${method} ${path}`).not.toMatch(STACK_TRACE);
        }
        expect((await raw('OPTIONS', '*')).status).toBe(204);
        // second line of defence on fast-path answers too: no MIME sniffing
        expect((await fetch(`${stack.provider.url}/oidc/jwks`)).headers.get('x-content-type-options')).toBe('nosniff');
        expect((await fetch(`${stack.provider.url}/.well-known/openid-configuration`)).status).toBe(200);
      });
  });
}
