import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import type { AuditEvent } from '../audit';
import { TEST_ISSUER, testProvider } from '../test-provider';

/**
 * The token endpoint's error table (RFC 6749 5.2, RFC 7636 4.6, RFC 9700 4.14) through the HTTP bridge,
 * for all three grants: status, error code, the no-store and WWW-Authenticate headers, and the audit event.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');
const REDIRECT = 'https://rp.example/cb';
let conf: { id: string; secret: string };
let other: { id: string; secret: string };
let poster: { id: string; secret: string };
const PUB = 'public-app';

beforeAll(async () => {
  t = await testProvider();
  await t.client({
    clientId: PUB,
    name: 'Public',
    redirectUris: [REDIRECT],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'offline_access'],
    tokenEndpointAuthMethod: 'none',
    firstParty: true,
  });
  const confidential = async (clientId: string, extra: Record<string, unknown> = {}) => {
    const created = await t.client({
      clientId,
      name: clientId,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      firstParty: true,
      ...extra,
    });
    return { id: created.clientId, secret: created.clientSecret! };
  };
  conf = await confidential('conf');
  other = await confidential('other');
  poster = await confidential('poster', { tokenEndpointAuthMethod: 'client_secret_post', grantTypes: ['client_credentials'] });
});
afterAll(() => t?.close());
afterEach(() => t.clock.reset());

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const send = (request: Request) => handleProviderRequest(request, t.ctx, t.provider, log, null);
const post = (body: string | Record<string, string>, headers: Record<string, string> = {}) =>
  send(
    new Request(`${TEST_ISSUER}/oidc/token`, {
      method: 'POST',
      body: typeof body === 'string' ? body : new URLSearchParams(body),
      headers: { ...FORM, ...headers },
    }),
  );
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** The error answer's fields, after checking what every token error response carries. */
async function expectError(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('pragma')).toBe('no-cache');
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = JSON.parse(await response.text());
  expect(body.error).toBe(error);
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|node_modules|\.ts:/);
  return body;
}

/** The one audit event a request recorded. */
async function auditOf(request: () => Promise<Response>): Promise<{ response: Response; event: AuditEvent }> {
  t.events.length = 0;
  const response = await request();
  expect(t.events).toHaveLength(1);
  return { response, event: t.events[0] };
}

/** A code as the authorization endpoint issues it to a signed-in browser (PKCE S256 unless `pkce: false`). */
async function code(clientId = PUB, options: { scope?: string; pkce?: false } = {}) {
  const user = await t.signIn();
  const { verifier, challenge } = pkce();
  const query = new URLSearchParams({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: options.scope ?? 'openid offline_access',
    state: 'st',
    ...(options.pkce === false ? {} : { code_challenge: challenge, code_challenge_method: 'S256' }),
  });
  const response = await send(new Request(`${TEST_ISSUER}/oidc/authorize?${query}`, { headers: { cookie: user.cookie } }));
  expect(response.status).toBe(303);
  const issued = new URL(response.headers.get('location')!).searchParams.get('code');
  expect(issued).toBeTruthy();
  return { code: issued!, verifier, userId: user.userId };
}

async function tokensFor(clientId = PUB) {
  const { code: issued, verifier } = await code(clientId);
  const auth: Record<string, string> = clientId === PUB ? {} : { authorization: basic(clientId, clientId === conf.id ? conf.secret : other.secret) };
  const response = await post(
    { grant_type: 'authorization_code', code: issued, redirect_uri: REDIRECT, code_verifier: verifier, ...(clientId === PUB ? { client_id: PUB } : {}) },
    auth,
  );
  expect(response.status).toBe(200);
  return JSON.parse(await response.text()) as { access_token: string; refresh_token: string; id_token: string };
}

const userinfo = (accessToken: string) => send(new Request(`${TEST_ISSUER}/oidc/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }));
const userinfoStatus = async (accessToken: string) => (await userinfo(accessToken)).status;

describe('request shape: invalid_request (400), audited as token.validation_failed', () => {
  const cc = { grant_type: 'client_credentials' };
  it.each<[string, string | Record<string, string>, Record<string, string>]>([
    ['no grant_type', {}, {}],
    ['a JSON body', JSON.stringify(cc), { 'content-type': 'application/json' }],
    ['no content type', 'grant_type=client_credentials', { 'content-type': '' }],
    ['a repeated parameter', 'grant_type=client_credentials&scope=api&scope=api', {}],
    ['a repeated grant_type', 'grant_type=client_credentials&grant_type=client_credentials', {}],
    ['a control character in a value', { ...cc, scope: 'api\u0000' }, {}],
    ['a value over 8 KiB', { ...cc, scope: 'a'.repeat(8193) }, {}],
    ['a body over 64 KiB (the Node server answers 413 before this)', `grant_type=client_credentials&pad=${'a'.repeat(70_000)}`, {}],
    ['client_secret beside Basic credentials', { ...cc, client_secret: 'also' }, {}],
    ['a client_id that is not the Basic one', { ...cc, client_id: 'other' }, {}],
    ['authorization_code without code', { grant_type: 'authorization_code', redirect_uri: REDIRECT }, {}],
    ['authorization_code without redirect_uri', { grant_type: 'authorization_code', code: 'x' }, {}],
    ['refresh_token without refresh_token', { grant_type: 'refresh_token' }, {}],
  ])('%s', async (_, body, headers) => {
    const { response, event } = await auditOf(() => post(body, { authorization: basic(conf.id, conf.secret), ...headers }));
    await expectError(response, 400, 'invalid_request');
    expect(response.headers.get('www-authenticate')).toBeNull();
    // before authentication the audit names the client whose credentials came, never a differing body client_id
    expect(event).toMatchObject({ action: 'token.validation_failed', clientId: conf.id, details: { reason: 'invalid_request' } });
  });

  it('client_secret without client_id is invalid_request, naming no client', async () => {
    const { response, event } = await auditOf(() => post({ ...cc, client_secret: 'x' }));
    await expectError(response, 400, 'invalid_request');
    expect(event).toMatchObject({ action: 'token.validation_failed', clientId: null });
  });

  it('GET is 405 with Allow: POST at the bridge, and invalid_request at the endpoint', async () => {
    const response = await send(new Request(`${TEST_ISSUER}/oidc/token?grant_type=client_credentials`));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    const { tokenEndpoint } = await import('./token');
    await expectError(await tokenEndpoint(new Request(`${TEST_ISSUER}/oidc/token`), t.ctx, t.provider), 400, 'invalid_request');
  });
});

describe('client authentication: invalid_client (401), audited as client.auth_failed', () => {
  const realm = `Basic realm="${TEST_ISSUER}", charset="UTF-8"`;
  const cc = { grant_type: 'client_credentials' };
  it.each<[string, Record<string, string>, Record<string, string>, string | null, string | null]>([
    ['Basic with a wrong secret', cc, { authorization: basic('conf', 'not-the-secret') }, realm, 'conf'],
    ['Basic for an unknown client', cc, { authorization: basic('no-such-client', 'x') }, realm, 'no-such-client'],
    ['Basic that does not decode', cc, { authorization: 'Basic !!!' }, realm, null],
    ['another scheme in Authorization', cc, { authorization: 'Bearer abc' }, realm, null],
    ['Basic for a client_secret_post client', cc, { authorization: basic('poster', 'whatever') }, realm, 'poster'],
    ['client_secret_post with a wrong secret', { ...cc, client_id: 'poster', client_secret: 'nope' }, {}, null, 'poster'],
    ['client_secret_post for a client_secret_basic client', { ...cc, client_id: 'conf', client_secret: 'x' }, {}, null, 'conf'],
    ['only the client_id of a confidential client', { ...cc, client_id: 'conf' }, {}, null, 'conf'],
    ['a public client presenting a secret', { ...cc, client_id: PUB, client_secret: 'x' }, {}, null, PUB],
    ['no client authentication at all', cc, {}, null, null],
  ])('%s', async (_, body, headers, challenge, clientId) => {
    const { response, event } = await auditOf(() => post(body, headers));
    await expectError(response, 401, 'invalid_client');
    expect(response.headers.get('www-authenticate')).toBe(challenge);
    expect(event).toMatchObject({ action: 'client.auth_failed', clientId, details: { reason: 'invalid_client' } });
  });

  it('the right secret by the registered method is accepted (the table above is not vacuous)', async () => {
    expect((await post(cc, { authorization: basic(conf.id, conf.secret) })).status).toBe(200);
    expect((await post({ ...cc, client_id: poster.id, client_secret: poster.secret })).status).toBe(200);
  });
});

describe('grant type, client and scope checks', () => {
  it.each<[string, Record<string, string>, () => Record<string, string>, number, string]>([
    [
      'an unknown grant type',
      { grant_type: 'urn:ietf:params:oauth:grant-type:device_code' },
      () => ({ authorization: basic(conf.id, conf.secret) }),
      400,
      'unsupported_grant_type',
    ],
    [
      'the password grant',
      { grant_type: 'password', username: 'u', password: 'p' },
      () => ({ authorization: basic(conf.id, conf.secret) }),
      400,
      'unsupported_grant_type',
    ],
    ['client_credentials for a public client', { grant_type: 'client_credentials', client_id: PUB }, () => ({}), 400, 'unauthorized_client'],
    ['refresh_token for a client registered without it', { grant_type: 'refresh_token', refresh_token: 'x' }, () => ({}), 400, 'unauthorized_client'],
    [
      'a scope the client does not have',
      { grant_type: 'client_credentials', scope: 'api superuser' },
      () => ({ authorization: basic(conf.id, conf.secret) }),
      400,
      'invalid_scope',
    ],
    [
      'an unknown resource',
      { grant_type: 'client_credentials', resource: 'https://unknown.example/' },
      () => ({ authorization: basic(conf.id, conf.secret) }),
      400,
      'invalid_target',
    ],
  ])('%s', async (_, body, headers, status, error) => {
    // the secret of a client_secret_post client is only known once it is registered
    const extra: Record<string, string> = body.grant_type === 'refresh_token' ? { client_id: poster.id, client_secret: poster.secret } : {};
    const { response, event } = await auditOf(() => post({ ...body, ...extra }, headers()));
    await expectError(response, status, error);
    expect(event).toMatchObject({ action: 'token.validation_failed', details: { reason: error } });
    expect(event.clientId).not.toBeNull();
  });
});

describe('authorization_code: invalid_grant', () => {
  const exchange = (form: Record<string, string>, auth: Record<string, string> = {}) =>
    post({ grant_type: 'authorization_code', redirect_uri: REDIRECT, ...form }, auth);

  it('an unknown code: token.code_invalid (cause unknown)', async () => {
    const { response, event } = await auditOf(() => exchange({ code: 'no-such-code', client_id: PUB, code_verifier: pkce().verifier }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.code_invalid', clientId: PUB, grantType: 'authorization_code', details: { cause: 'unknown' } });
  });

  it('an expired code (the clock moved past its lifetime): token.code_invalid (cause expired)', async () => {
    const a = await code();
    await t.clock.advance(t.provider.settings.ttl.authorizationCode + 1);
    const { response, event } = await auditOf(() => exchange({ code: a.code, client_id: PUB, code_verifier: a.verifier }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.code_invalid', details: { cause: 'expired' } });
  });

  it('a replayed code is refused and revokes the tokens issued from it (token.code_replayed)', async () => {
    const a = await code();
    const form = { code: a.code, client_id: PUB, code_verifier: a.verifier };
    const first = await exchange(form);
    expect(first.status).toBe(200);
    const issued = JSON.parse(await first.text());
    expect(await userinfoStatus(issued.access_token)).toBe(200);
    const { response, event } = await auditOf(() => exchange(form));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({
      action: 'token.code_replayed',
      clientId: PUB,
      details: { reason: 'invalid_grant', revoked_refresh_tokens: 1, code_client_id: PUB },
    });
    const refused = await userinfo(issued.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer realm="userinfo", error="invalid_token"/);
    await expectError(await post({ grant_type: 'refresh_token', refresh_token: issued.refresh_token, client_id: PUB }), 400, 'invalid_grant');
  });

  it.each<[string, (a: { code: string; verifier: string }) => [Record<string, string>, Record<string, string>], string, string]>([
    [
      'another redirect_uri',
      (a) => [{ code: a.code, client_id: PUB, code_verifier: a.verifier, redirect_uri: 'https://rp.example/elsewhere' }, {}],
      'token.code_invalid',
      'redirect_uri_mismatch',
    ],
    ['a wrong PKCE verifier', (a) => [{ code: a.code, client_id: PUB, code_verifier: pkce().verifier }, {}], 'token.pkce_failed', ''],
    ['no PKCE verifier', (a) => [{ code: a.code, client_id: PUB }, {}], 'token.pkce_failed', ''],
  ])('%s', async (_, request, action, cause) => {
    const a = await code();
    const [form, auth] = request(a);
    const { response, event } = await auditOf(() => exchange(form, auth));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action, clientId: PUB, details: { reason: 'invalid_grant', ...(cause ? { cause } : {}) } });
    // a refused exchange burns the code: the right request afterwards is a replay
    expect((await exchange({ code: a.code, client_id: PUB, code_verifier: a.verifier })).status).toBe(400);
  });

  it('a code issued to another client (token.code_invalid, cause client_mismatch)', async () => {
    const a = await code(conf.id);
    const { response, event } = await auditOf(() => exchange({ code: a.code, code_verifier: a.verifier }, { authorization: basic(other.id, other.secret) }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.code_invalid', clientId: other.id, details: { cause: 'client_mismatch' } });
  });

  it('a verifier for a code issued without a challenge', async () => {
    const a = await code(conf.id, { pkce: false });
    await expectError(await exchange({ code: a.code, code_verifier: a.verifier }, { authorization: basic(conf.id, conf.secret) }), 400, 'invalid_grant');
  });
});

describe('refresh_token: invalid_grant and invalid_scope', () => {
  const refresh = (form: Record<string, string>, auth: Record<string, string> = {}) => post({ grant_type: 'refresh_token', ...form }, auth);

  it('an unknown refresh token: token.validation_failed (cause unknown_refresh_token)', async () => {
    const { response, event } = await auditOf(() => refresh({ refresh_token: 'no-such-token', client_id: PUB }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.validation_failed', grantType: 'refresh_token', details: { cause: 'unknown_refresh_token' } });
  });

  it("another client's refresh token (cause client_mismatch) stays its owner's", async () => {
    const mine = await tokensFor(conf.id);
    const { response, event } = await auditOf(() => refresh({ refresh_token: mine.refresh_token }, { authorization: basic(other.id, other.secret) }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.validation_failed', clientId: other.id, details: { cause: 'client_mismatch' } });
    expect((await refresh({ refresh_token: mine.refresh_token }, { authorization: basic(conf.id, conf.secret) })).status).toBe(200);
  });

  it('reuse of a rotated token revokes the whole family (token.refresh_reused)', async () => {
    const first = await tokensFor();
    const rotated = await refresh({ refresh_token: first.refresh_token, client_id: PUB });
    expect(rotated.status).toBe(200);
    const second = JSON.parse(await rotated.text());
    const { response, event } = await auditOf(() => refresh({ refresh_token: first.refresh_token, client_id: PUB }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.refresh_reused', clientId: PUB, details: { reason: 'invalid_grant', revoked_refresh_tokens: 1 } });
    // the newest token of the family died with it, and so did its access token
    await expectError(await refresh({ refresh_token: second.refresh_token, client_id: PUB }), 400, 'invalid_grant');
    expect(await userinfoStatus(second.access_token)).toBe(401);
  });

  it('an expired refresh token (the clock moved past its lifetime): token.expired', async () => {
    const tokens = await tokensFor();
    await t.clock.advance(t.provider.settings.ttl.refreshToken + 1);
    const { response, event } = await auditOf(() => refresh({ refresh_token: tokens.refresh_token, client_id: PUB }));
    await expectError(response, 400, 'invalid_grant');
    expect(event).toMatchObject({ action: 'token.expired', details: { reason: 'invalid_grant', token_type: 'refresh_token' } });
  });

  it('may narrow the scope but not widen it (invalid_scope), and a refused widening keeps the token usable', async () => {
    const tokens = await tokensFor();
    const { response, event } = await auditOf(() => refresh({ refresh_token: tokens.refresh_token, client_id: PUB, scope: 'openid email' }));
    await expectError(response, 400, 'invalid_scope');
    expect(event).toMatchObject({ action: 'token.validation_failed', details: { reason: 'invalid_scope' } });
    const narrowed = await refresh({ refresh_token: tokens.refresh_token, client_id: PUB, scope: 'openid' });
    expect(narrowed.status).toBe(200);
    expect(JSON.parse(await narrowed.text()).scope).toBe('openid');
  });
});
