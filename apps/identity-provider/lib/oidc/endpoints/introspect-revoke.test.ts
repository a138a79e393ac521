import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import { TEST_ISSUER, testProvider } from '../test-provider';

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) through the HTTP bridge: client authentication,
 * token_type_hint, and the rule that a client learns nothing of tokens it does not hold (active:false) and
 * may not revoke them (400, the token left alive), while unknown tokens are active:false / 200.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');
const REDIRECT = 'https://rp.example/cb';
const PUB = 'public-app';
let mine: { id: string; secret: string };
let theirs: { id: string; secret: string };

beforeAll(async () => {
  t = await testProvider();
  await t.client({
    clientId: PUB,
    name: 'Public',
    redirectUris: [REDIRECT],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'offline_access'],
    tokenEndpointAuthMethod: 'none',
    firstParty: true,
  });
  const confidential = async (clientId: string) => {
    const created = await t.client({
      clientId,
      name: clientId,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scopes: ['openid', 'offline_access', 'api'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      firstParty: true,
    });
    return { id: created.clientId, secret: created.clientSecret! };
  };
  mine = await confidential('mine');
  theirs = await confidential('theirs');
});
afterAll(() => t?.close());
afterEach(() => t.clock.reset());

const basic = (client: { id: string; secret: string }) => `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
const send = (request: Request) => handleProviderRequest(request, t.ctx, t.provider, log, null);
const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  send(
    new Request(`${TEST_ISSUER}${path}`, {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    }),
  );
const introspect = async (token: string, as: Record<string, string> = { authorization: basic(mine) }, extra: Record<string, string> = {}) => {
  const response = await post('/oidc/introspect', { token, ...extra }, as);
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return JSON.parse(await response.text()) as Record<string, unknown>;
};
const revoke = (token: string, as: Record<string, string> = { authorization: basic(mine) }, extra: Record<string, string> = {}) =>
  post('/oidc/revoke', { token, ...extra }, as);

/** Tokens of a user for `client` (a confidential one by Basic, or the public one by client_id), via authorize. */
async function userTokens(client: { id: string; secret: string } | typeof PUB = mine) {
  const user = await t.signIn();
  const verifier = randomBytes(32).toString('base64url');
  const clientId = typeof client === 'string' ? client : client.id;
  const query = new URLSearchParams({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid offline_access',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const authorized = await send(new Request(`${TEST_ISSUER}/oidc/authorize?${query}`, { headers: { cookie: user.cookie } }));
  const code = new URL(authorized.headers.get('location')!).searchParams.get('code')!;
  const exchanged = await post(
    '/oidc/token',
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...(typeof client === 'string' ? { client_id: client } : {}) },
    typeof client === 'string' ? {} : { authorization: basic(client) },
  );
  expect(exchanged.status).toBe(200);
  return { userId: user.userId, ...(JSON.parse(await exchanged.text()) as { access_token: string; refresh_token: string }) };
}

const serviceToken = async (client = mine) =>
  JSON.parse(await (await post('/oidc/token', { grant_type: 'client_credentials', scope: 'api' }, { authorization: basic(client) })).text())
    .access_token as string;

describe.each([
  ['introspection', '/oidc/introspect'],
  ['revocation', '/oidc/revoke'],
])('%s: refused requests', (endpoint, path) => {
  const realm = `Basic realm="${TEST_ISSUER}", charset="UTF-8"`;
  it.each<[string, string | Record<string, string>, () => Record<string, string>, number, string, string | null, string]>([
    [
      'Basic with a wrong secret',
      { token: 'x' },
      () => ({ authorization: `Basic ${Buffer.from('mine:wrong').toString('base64')}` }),
      401,
      'invalid_client',
      realm,
      'client.auth_failed',
    ],
    [
      'Basic for an unknown client',
      { token: 'x' },
      () => ({ authorization: `Basic ${Buffer.from('nobody:x').toString('base64')}` }),
      401,
      'invalid_client',
      realm,
      'client.auth_failed',
    ],
    [
      'client_secret_post for a Basic client',
      { token: 'x', client_id: 'mine', client_secret: 'x' },
      () => ({}),
      401,
      'invalid_client',
      null,
      'client.auth_failed',
    ],
    ['no client authentication', { token: 'x' }, () => ({}), 401, 'invalid_client', null, 'client.auth_failed'],
    ['no token parameter', {}, () => ({ authorization: basic(mine) }), 400, 'invalid_request', null, 'token.validation_failed'],
    [
      'a body that is no form',
      { token: 'x' },
      () => ({ authorization: basic(mine), 'content-type': 'text/plain' }),
      400,
      'invalid_request',
      null,
      'token.validation_failed',
    ],
    ['a repeated token parameter', 'token=x&token=y', () => ({ authorization: basic(mine) }), 400, 'invalid_request', null, 'token.validation_failed'],
    [
      'an unknown token_type_hint',
      { token: 'x', token_type_hint: 'id_token' },
      () => ({ authorization: basic(mine) }),
      400,
      'unsupported_token_type',
      null,
      'token.validation_failed',
    ],
  ])('%s', async (_, body, headers, status, error, challenge, action) => {
    t.events.length = 0;
    const response = await send(
      new Request(`${TEST_ISSUER}${path}`, {
        method: 'POST',
        body: typeof body === 'string' ? body : new URLSearchParams(body),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers() },
      }),
    );
    expect(response.status).toBe(status);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('www-authenticate')).toBe(challenge);
    expect(JSON.parse(await response.text()).error).toBe(error);
    expect(t.events).toEqual([expect.objectContaining({ action, details: { reason: error, endpoint } })]);
  });

  it('GET is 405 with Allow: POST', async () => {
    const response = await send(new Request(`${TEST_ISSUER}${path}?token=x`));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('introspection answers', () => {
  it('a public client may not introspect: 401 invalid_client', async () => {
    t.events.length = 0;
    const response = await post('/oidc/introspect', { token: 'x', client_id: PUB });
    expect(response.status).toBe(401);
    expect(JSON.parse(await response.text()).error).toBe('invalid_client');
    expect(t.events).toEqual([expect.objectContaining({ action: 'client.auth_failed', clientId: PUB })]);
  });

  it.each([
    ['a random string', 'no-such-token', {}],
    ['a JWT-shaped string', 'a.b.c', {}],
    ['an unknown token with hint access_token', 'no-such-token', { token_type_hint: 'access_token' }],
    ['an unknown token with hint refresh_token', 'a.b.c', { token_type_hint: 'refresh_token' }],
  ])('%s: 200 active:false, audited as inactive', async (_, token, extra) => {
    t.events.length = 0;
    expect(await introspect(token, { authorization: basic(mine) }, extra)).toEqual({ active: false });
    expect(t.events).toEqual([
      expect.objectContaining({ action: 'token.introspected', clientId: mine.id, userId: null, details: { active: false, token_type: null, jti: null } }),
    ]);
  });

  it("another client's access and refresh tokens are active:false to it, active to their owner", async () => {
    const tokens = await userTokens(mine);
    for (const token of [tokens.access_token, tokens.refresh_token]) {
      expect(await introspect(token, { authorization: basic(theirs) })).toEqual({ active: false });
      expect(await introspect(token)).toMatchObject({ active: true, client_id: mine.id });
    }
  });

  it('own tokens: the access token and the refresh token described, whichever hint is given', async () => {
    const tokens = await userTokens(mine);
    t.events.length = 0;
    const access = await introspect(tokens.access_token, undefined, { token_type_hint: 'refresh_token' });
    expect(access).toMatchObject({
      active: true,
      token_type: 'Bearer',
      client_id: mine.id,
      sub: tokens.userId,
      iss: TEST_ISSUER,
      scope: 'openid offline_access',
    });
    expect(access).not.toHaveProperty('user_id');
    expect(t.events).toEqual([
      expect.objectContaining({
        action: 'token.introspected',
        userId: tokens.userId,
        details: expect.objectContaining({ active: true, token_type: 'Bearer' }),
      }),
    ]);
    expect(await introspect(tokens.refresh_token, undefined, { token_type_hint: 'access_token' })).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      client_id: mine.id,
      sub: tokens.userId,
    });
  });

  it('an expired access token is active:false (the clock moved past its lifetime)', async () => {
    const token = await serviceToken();
    expect(await introspect(token)).toMatchObject({ active: true });
    await t.clock.advance(t.provider.settings.ttl.accessToken + 1);
    expect(await introspect(token)).toEqual({ active: false });
  });

  it('an expired refresh token is active:false', async () => {
    const { refresh_token } = await userTokens(mine);
    await t.clock.advance(t.provider.settings.ttl.refreshToken + 1);
    expect(await introspect(refresh_token)).toEqual({ active: false });
  });
});

describe('revocation answers', () => {
  const expectRevoked = async (response: Response) => {
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe('');
  };

  it.each([
    ['a random string', 'no-such-token'],
    ['a JWT-shaped string', 'a.b.c'],
  ])('%s: 200, nothing revoked, nothing audited', async (_, token) => {
    t.events.length = 0;
    await expectRevoked(await revoke(token, undefined, { token_type_hint: 'refresh_token' }));
    expect(t.events).toEqual([]);
  });

  it("another client's tokens: 400 invalid_request, and they stay alive", async () => {
    const tokens = await userTokens(mine);
    for (const token of [tokens.refresh_token, tokens.access_token]) {
      t.events.length = 0;
      const refused = await revoke(token, { authorization: basic(theirs) });
      expect(refused.status).toBe(400);
      expect(JSON.parse(await refused.text()).error).toBe('invalid_request');
      expect(t.events).toEqual([
        expect.objectContaining({ action: 'token.validation_failed', clientId: theirs.id, details: { reason: 'invalid_request', endpoint: 'revocation' } }),
      ]);
      expect(await introspect(token)).toMatchObject({ active: true });
    }
  });

  it('a refresh token revokes its whole grant, the access token too; a second revocation is 200 again', async () => {
    const tokens = await userTokens(mine);
    t.events.length = 0;
    await expectRevoked(await revoke(tokens.refresh_token));
    expect(t.events).toEqual([
      expect.objectContaining({
        action: 'token.revoked',
        clientId: mine.id,
        userId: tokens.userId,
        details: expect.objectContaining({ token_type: 'refresh_token', revoked_refresh_tokens: 1 }),
      }),
    ]);
    expect(await introspect(tokens.refresh_token)).toEqual({ active: false });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    await expectRevoked(await revoke(tokens.refresh_token));
  });

  it('an access token is blocked by its jti; a service token names no user', async () => {
    const token = await serviceToken();
    t.events.length = 0;
    await expectRevoked(await revoke(token, undefined, { token_type_hint: 'access_token' }));
    expect(t.events).toEqual([
      expect.objectContaining({ action: 'token.revoked', userId: null, details: expect.objectContaining({ token_type: 'access_token' }) }),
    ]);
    expect(await introspect(token)).toEqual({ active: false });
  });

  it('a public client revokes its own refresh token by client_id alone', async () => {
    const tokens = await userTokens(PUB);
    await expectRevoked(await revoke(tokens.refresh_token, {}, { client_id: PUB }));
    const refreshed = await post('/oidc/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: PUB });
    expect(refreshed.status).toBe(400);
    expect(JSON.parse(await refreshed.text()).error).toBe('invalid_grant');
  });
});
