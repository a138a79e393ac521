import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../log';
import { handleProviderRequest, isProviderPath } from '../../http/edge';
import { TEST_ISSUER, testProvider } from '../test-provider';
import { issueAccessToken, issueIdToken } from '../tokens';
import { authorizationEndpoint } from './authorize';
import { discoveryDocument } from './discovery';
import { DISCOVERED_PATHS } from '../router';
import { endSessionEndpoint } from './end-session';
import { introspectionEndpoint } from './introspect';
import { tokenEndpoint } from './token';

/**
 * Issue #12 items 6, 12, 16 and 17 against the real endpoint functions: a Provider wired as in production
 * (embedded database, real keys and client registry), requests as a browser or a client would send them.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const RP = { clientId: 'photo-app', redirectUri: 'https://rp.example/cb', postLogout: 'https://rp.example/bye' };
let machine: { clientId: string; secret: string };
let rpSecret: string;

beforeAll(async () => {
  t = await testProvider();
  rpSecret = (
    await t.client({
      clientId: RP.clientId,
      name: 'Photo app',
      redirectUris: [RP.redirectUri],
      postLogoutRedirectUris: [RP.postLogout],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      firstParty: true,
    })
  ).clientSecret!;
  const created = await t.client({
    clientId: 'machine',
    name: 'Machine',
    grantTypes: ['client_credentials'],
    scopes: ['openid'],
    tokenEndpointAuthMethod: 'client_secret_basic',
  });
  machine = { clientId: created.clientId, secret: created.clientSecret! };
});
afterAll(async () => {
  await t?.close();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  new Request(`${TEST_ISSUER}${path}`, {
    method: 'POST',
    body: new URLSearchParams(body),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
const get = (pathAndQuery: string, cookie?: string) =>
  new Request(`${TEST_ISSUER}${pathAndQuery}`, { headers: cookie ? { cookie, 'sec-fetch-site': 'cross-site' } : {} });
const errorCodeOf = async (page: Response) => /data-testid="error-code">([^<]*)</.exec(await page.text())?.[1];

async function idToken(input: { userId: string; sid?: string; clientId?: string; expired?: boolean }) {
  const realNow = t.provider.now;
  // an ID token issued two hours ago has expired (ID_TOKEN_TTL_SECONDS is an hour)
  if (input.expired) t.provider.now = () => new Date(Date.now() - 2 * 3600_000);
  try {
    return (
      await issueIdToken(t.provider, {
        subject: input.userId,
        clientId: input.clientId ?? RP.clientId,
        alg: 'RS256',
        authTime: t.provider.now(),
        sid: input.sid ?? null,
      })
    ).token;
  } finally {
    t.provider.now = realNow;
  }
}

describe('end-session (item 6: no forced logout from another site)', () => {
  const endSession = (query: Record<string, string>, cookie: string) =>
    endSessionEndpoint(get(`/oidc/end-session?${new URLSearchParams(query)}`, cookie), t.ctx, t.provider);

  it('refuses an access token as id_token_hint (400 invalid_request) and leaves the session alone', async () => {
    const victim = await t.signIn();
    const accessToken = (await issueAccessToken(t.provider, { subject: machine.clientId, clientId: machine.clientId, scope: ['openid'] })).token;
    const response = await endSession({ id_token_hint: accessToken }, victim.cookie);
    expect(response.status).toBe(400);
    expect(await errorCodeOf(response)).toBe('invalid_request');
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await t.store.sessions.findActive(victim.sid)).not.toBeNull();
    expect(t.events.filter((e) => e.action === 'auth.logout' && e.userId === victim.userId)).toEqual([]);
  });

  it('refuses a user access token of this provider too, even one carrying the session sid', async () => {
    const victim = await t.signIn();
    const accessToken = (await issueAccessToken(t.provider, { subject: victim.userId, clientId: RP.clientId, scope: ['openid'], sid: victim.sid })).token;
    const response = await endSession({ id_token_hint: accessToken }, victim.cookie);
    expect(response.status).toBe(400);
    expect(await t.store.sessions.findActive(victim.sid)).not.toBeNull();
  });

  it('asks the user to confirm when the ID token has no sid, or names another session', async () => {
    const victim = await t.signIn();
    const other = await t.signIn();
    for (const hint of [await idToken({ userId: victim.userId }), await idToken({ userId: other.userId, sid: other.sid })]) {
      const response = await endSession({ id_token_hint: hint, post_logout_redirect_uri: RP.postLogout, state: 's1' }, victim.cookie);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/logout');
      expect(await t.store.sessions.findActive(victim.sid)).not.toBeNull();
    }
  });

  it('refuses an ID token for an audience that is no registered client, and a tampered one', async () => {
    const victim = await t.signIn();
    const foreign = await idToken({ userId: victim.userId, sid: victim.sid, clientId: 'nobody-registered-this' });
    const [h, p, s] = (await idToken({ userId: victim.userId, sid: victim.sid })).split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
    for (const hint of [foreign, tampered]) {
      const response = await endSession({ id_token_hint: hint }, victim.cookie);
      expect(response.status).toBe(400);
      expect(await t.store.sessions.findActive(victim.sid)).not.toBeNull();
    }
  });

  it('ends the session at once for an ID token of this session, expired ones included', async () => {
    for (const expired of [false, true]) {
      const user = await t.signIn();
      const hint = await idToken({ userId: user.userId, sid: user.sid, expired });
      const response = await endSession({ id_token_hint: hint, post_logout_redirect_uri: RP.postLogout, state: 'st' }, user.cookie);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe(`${RP.postLogout}?state=st`);
      expect(response.headers.get('set-cookie')).toMatch(/Max-Age=0/);
      expect(await t.store.sessions.findActive(user.sid)).toBeNull();
    }
  });

  it('ID tokens from the code flow carry the session id (sid) that logout matches', async () => {
    const user = await t.signIn();
    const { code } = await authorizeAs(user.cookie, {});
    const response = await tokenEndpoint(
      form('/oidc/token', { grant_type: 'authorization_code', code: code!, redirect_uri: RP.redirectUri }, { authorization: basic(RP.clientId, rpSecret) }),
      t.ctx,
      t.provider,
    );
    expect(response.status).toBe(200);
    const { id_token: token } = JSON.parse(await response.text());
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())).toMatchObject({ sub: user.userId, sid: user.sid, aud: RP.clientId });
  });
});

/** One authorization request for the RP as the browser with `cookie`: the redirect's code or error. */
async function authorizeAs(cookie: string, extra: Record<string, string>) {
  const query = new URLSearchParams({ client_id: RP.clientId, redirect_uri: RP.redirectUri, response_type: 'code', scope: 'openid', state: 'xyz', ...extra });
  const response = await authorizationEndpoint(get(`/oidc/authorize?${query}`, cookie), t.ctx, t.provider);
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get('location')!, TEST_ISSUER);
  return { location, code: location.searchParams.get('code'), error: location.searchParams.get('error') };
}

describe('authorization endpoint id_token_hint (item 17)', () => {
  it('answers login_required with prompt=none when the hint names another user than the one signed in', async () => {
    const signedIn = await t.signIn();
    const other = await t.signIn();
    const answer = await authorizeAs(signedIn.cookie, { prompt: 'none', id_token_hint: await idToken({ userId: other.userId }) });
    expect(answer.code).toBeNull();
    expect(answer.error).toBe('login_required');
    expect(answer.location.origin + answer.location.pathname).toBe(RP.redirectUri);
  });

  it('sends the browser to sign in again without prompt=none', async () => {
    const signedIn = await t.signIn();
    const other = await t.signIn();
    const answer = await authorizeAs(signedIn.cookie, { id_token_hint: await idToken({ userId: other.userId }) });
    expect(answer.code).toBeNull();
    expect(answer.location.pathname).toBe('/login');
    expect(answer.location.searchParams.get('interaction')).toBeTruthy();
  });

  it('answers invalid_request for a tampered hint, one issued to another client, and an access token', async () => {
    const signedIn = await t.signIn();
    const [h, p, s] = (await idToken({ userId: 'someone-else' })).split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const hints = [
      `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: signedIn.userId })).toString('base64url')}.${s}`,
      await idToken({ userId: signedIn.userId, clientId: machine.clientId }),
      (await issueAccessToken(t.provider, { subject: signedIn.userId, clientId: RP.clientId, scope: ['openid'] })).token,
      'not-a-jwt',
    ];
    for (const hint of hints) {
      for (const prompt of [{}, { prompt: 'none' }] as Record<string, string>[]) {
        const answer = await authorizeAs(signedIn.cookie, { id_token_hint: hint, ...prompt });
        expect(answer.code).toBeNull();
        expect(answer.error).toBe('invalid_request');
      }
    }
  });

  it('still issues a code when the hint names the signed-in user, expired or not', async () => {
    const signedIn = await t.signIn();
    for (const expired of [false, true]) {
      const answer = await authorizeAs(signedIn.cookie, { prompt: 'none', id_token_hint: await idToken({ userId: signedIn.userId, expired }) });
      expect(answer.error).toBeNull();
      expect(answer.code).toBeTruthy();
    }
  });
});

describe('token endpoint: inherited names are not grant types (item 12)', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'grant_type=%s is unsupported_grant_type, audited like any unknown one',
    async (grantType) => {
      t.events.length = 0;
      const response = await tokenEndpoint(
        form('/oidc/token', { grant_type: grantType }, { authorization: basic(machine.clientId, machine.secret) }),
        t.ctx,
        t.provider,
      );
      expect(response.status).toBe(400);
      expect(JSON.parse(await response.text()).error).toBe('unsupported_grant_type');
      const unknown = await tokenEndpoint(
        form('/oidc/token', { grant_type: 'no_such_grant' }, { authorization: basic(machine.clientId, machine.secret) }),
        t.ctx,
        t.provider,
      );
      expect(unknown.status).toBe(400);
      expect(t.events).toHaveLength(2);
      expect(t.events[0]).toEqual(t.events[1]);
      expect(t.events[0]).toMatchObject({
        action: 'token.validation_failed',
        grantType: null,
        clientId: machine.clientId,
        details: { reason: 'unsupported_grant_type' },
      });
    },
  );
});

describe('client id of failed requests with Basic credentials, and their realm (item 16)', () => {
  it('audits the client_id sent in Basic credentials when the request fails before authentication', async () => {
    const cases: Record<string, string>[] = [{}, { grant_type: 'client_credentials', client_secret: 'also-in-body' }];
    for (const body of cases) {
      t.events.length = 0;
      const response = await tokenEndpoint(form('/oidc/token', body, { authorization: basic('attempted-client', 'x') }), t.ctx, t.provider);
      expect(response.status).toBe(400);
      expect(t.events).toEqual([expect.objectContaining({ clientId: 'attempted-client' })]);
    }
    t.events.length = 0;
    await introspectionEndpoint(
      form('/oidc/introspect', {}, { 'content-type': 'text/plain', authorization: basic('attempted-client', 'x') }),
      t.ctx,
      t.provider,
    );
    expect(t.events).toEqual([expect.objectContaining({ clientId: 'attempted-client' })]);
  });

  it('names the issuer as the Basic realm of 401s at the introspection and token endpoints', async () => {
    for (const [path, endpoint] of [
      ['/oidc/introspect', introspectionEndpoint],
      ['/oidc/token', tokenEndpoint],
    ] as const) {
      t.events.length = 0;
      const response = await endpoint(
        form(path, { token: 'x', grant_type: 'client_credentials' }, { authorization: basic(machine.clientId, 'wrong') }),
        t.ctx,
        t.provider,
      );
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(`Basic realm="${TEST_ISSUER}", charset="UTF-8"`);
      expect(t.events).toEqual([expect.objectContaining({ action: 'client.auth_failed', clientId: machine.clientId })]);
    }
  });

  it('discovery advertises no userinfo signing algorithms (userinfo is plain JSON) and no session logout', () => {
    const document = discoveryDocument(t.provider.settings, DISCOVERED_PATHS);
    expect(document).not.toHaveProperty('userinfo_signing_alg_values_supported');
    expect(document).not.toHaveProperty('frontchannel_logout_session_supported');
    expect(document).not.toHaveProperty('backchannel_logout_session_supported');
  });
});

describe('route tables are looked up by own keys only (item 12)', () => {
  it('a path naming an inherited property is no route: 404, not a crash', async () => {
    const log = createLogger('silent');
    for (const pathname of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(isProviderPath(pathname)).toBe(false);
      const response = await handleProviderRequest(new Request(`${TEST_ISSUER}/`), t.ctx, t.provider, log, null, pathname);
      expect(response.status).toBe(404);
    }
  });
});
