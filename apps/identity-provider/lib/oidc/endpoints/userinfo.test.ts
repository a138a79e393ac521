import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import { defaultTarget } from '../steps/resource';
import { TEST_ISSUER, testProvider } from '../test-provider';
import { issueAccessToken } from '../tokens';

/**
 * UserInfo's error table (OIDC Core 5.3.3, RFC 6750 3) through the HTTP bridge: the three WWW-Authenticate
 * forms (no token: a bare challenge; a bad token: error="invalid_token"; a bad request: 400 and a bare
 * challenge), GET and POST, and the audit event of each refusal.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');
const RP = 'userinfo-rp';
let rpSecret: string;
let userId: string;

beforeAll(async () => {
  t = await testProvider();
  rpSecret = (
    await t.client({
      clientId: RP,
      name: 'RP',
      grantTypes: ['client_credentials'],
      scopes: ['openid', 'email', 'api'],
      tokenEndpointAuthMethod: 'client_secret_basic',
    })
  ).clientSecret!;
  userId = (await t.signIn('userinfo.subject@example.org')).userId;
});
afterAll(() => t?.close());
afterEach(() => t.clock.reset());

const send = (request: Request) => handleProviderRequest(request, t.ctx, t.provider, log, null);
const bearerGet = (token: string) => send(new Request(`${TEST_ISSUER}/oidc/userinfo`, { headers: { authorization: `Bearer ${token}` } }));
const formPost = (body: Record<string, string>, headers: Record<string, string> = {}) =>
  send(
    new Request(`${TEST_ISSUER}/oidc/userinfo`, {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    }),
  );
const userToken = async (input: { scope?: string[]; subject?: string; aud?: string } = {}) =>
  (
    await issueAccessToken(t.provider, {
      subject: input.subject ?? userId,
      clientId: RP,
      scope: input.scope ?? ['openid', 'email'],
      ...(input.aud ? { target: { ...defaultTarget(t.provider.settings, null), aud: input.aud } } : {}),
    })
  ).token;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** 401 with error="invalid_token" in the challenge, no-store, and the refusal audited with `action`. */
async function expectInvalidToken(response: Response, action = 'token.validation_failed') {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="userinfo", error="invalid_token", error_description="[^"]+"$/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(JSON.parse(await response.text()).error).toBe('invalid_token');
  expect(t.events.at(-1)).toMatchObject({ action, details: { reason: 'invalid_token', endpoint: 'userinfo' } });
}

describe('no token: a bare challenge, nothing audited (RFC 6750 3.1)', () => {
  it.each<[string, () => Promise<Response>]>([
    ['GET without Authorization', () => send(new Request(`${TEST_ISSUER}/oidc/userinfo`))],
    ['POST with an empty form', () => formPost({})],
    [
      'POST with a body that is no form',
      () => send(new Request(`${TEST_ISSUER}/oidc/userinfo`, { method: 'POST', body: 'access_token=x', headers: { 'content-type': 'text/plain' } })),
    ],
    ['the token in the query string (never read from there)', async () => send(new Request(`${TEST_ISSUER}/oidc/userinfo?access_token=${await userToken()}`))],
  ])('%s', async (_, request) => {
    t.events.length = 0;
    const response = await request();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="userinfo"');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    expect(await response.text()).toBe('');
    expect(t.events).toEqual([]);
  });
});

describe('a bad token: 401 invalid_token', () => {
  it.each(['Bearer', 'Bearer a b', 'Basic dXNlcjpwYXNz', 'Bearer not a token!'])('Authorization: %s', async (header) => {
    await expectInvalidToken(await send(new Request(`${TEST_ISSUER}/oidc/userinfo`, { headers: { authorization: header } })));
  });

  it('tampered, alg none, HMAC with the public key, a foreign key, a foreign embedded jwk, not a JWT', async () => {
    const genuine = await userToken();
    const [h, p, s] = genuine.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const publicJwk = JSON.parse((await t.provider.keys.jwks()).body).keys.find((k: { kid: string }) => k.kid === header.kid);
    const hmacKey = await importJWK({ kty: 'oct', k: Buffer.from(JSON.stringify(publicJwk)).toString('base64url') }, 'HS256');
    const foreign = await generateKeyPair('ES256');
    const forged = [
      `${h}.${b64({ ...payload, sub: 'someone-else' })}.${s}`,
      `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${p}.`,
      await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }).sign(hmacKey),
      await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid }).sign(foreign.privateKey),
      await new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'unknown-kid', jwk: await exportJWK(foreign.publicKey) })
        .sign(foreign.privateKey),
      'not-a-jwt',
    ];
    for (const token of forged) await expectInvalidToken(await bearerGet(token));
    expect((await bearerGet(genuine)).status).toBe(200);
  });

  it('an expired token (the clock moved past its lifetime) is audited as token.expired', async () => {
    const token = await userToken();
    await t.clock.advance(t.provider.settings.ttl.accessToken + 1);
    await expectInvalidToken(await bearerGet(token), 'token.expired');
  });

  it('a token revoked at the revocation endpoint', async () => {
    const token = await userToken();
    expect((await bearerGet(token)).status).toBe(200);
    const revoked = await send(
      new Request(`${TEST_ISSUER}/oidc/revoke`, {
        method: 'POST',
        body: new URLSearchParams({ token }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${RP}:${rpSecret}`).toString('base64')}` },
      }),
    );
    expect(revoked.status).toBe(200);
    await expectInvalidToken(await bearerGet(token));
  });

  it.each<[string, () => Promise<string>]>([
    ['an audience without the issuer (a token for an API alone)', () => userToken({ aud: 'https://api.example/' })],
    ['a subject that no longer exists', () => userToken({ subject: '00000000-0000-4000-8000-000000000000' })],
    [
      'an ID token-shaped JWT signed by us but not typed at+jwt',
      async () => {
        const { issueIdToken } = await import('../tokens');
        return (await issueIdToken(t.provider, { subject: userId, clientId: RP, alg: 'RS256', authTime: t.provider.now() })).token;
      },
    ],
  ])('%s', async (_, token) => {
    await expectInvalidToken(await bearerGet(await token()));
  });
});

describe('a valid token without the openid scope: 403 insufficient_scope (RFC 6750 3.1)', () => {
  it('a client_credentials token', async () => {
    const token = await userToken({ subject: RP, scope: ['api'] });
    t.events.length = 0;
    const response = await bearerGet(token);
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="userinfo", error="insufficient_scope", error_description="[^"]+", scope="openid"$/,
    );
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(await response.text()).error).toBe('insufficient_scope');
    expect(t.events).toEqual([expect.objectContaining({ action: 'token.validation_failed', details: { reason: 'insufficient_scope', endpoint: 'userinfo' } })]);
  });
});

describe('a bad request: 400 invalid_request with a bare challenge', () => {
  it('the token in both the header and the body', async () => {
    const token = await userToken();
    t.events.length = 0;
    const response = await formPost({ access_token: token }, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="userinfo"');
    expect(JSON.parse(await response.text()).error).toBe('invalid_request');
    expect(t.events).toEqual([expect.objectContaining({ action: 'token.validation_failed', details: { reason: 'invalid_request', endpoint: 'userinfo' } })]);
  });

  it.each(['PUT', 'DELETE'])('%s is 405 with Allow: GET, POST', async (method) => {
    const response = await send(new Request(`${TEST_ISSUER}/oidc/userinfo`, { method, headers: { authorization: `Bearer ${await userToken()}` } }));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });
});

describe('a good token, by header (GET, POST) or form body (POST)', () => {
  it.each<[string, (token: string) => Promise<Response>]>([
    ['GET with Authorization', (token) => bearerGet(token)],
    ['POST with Authorization', (token) => formPost({}, { authorization: `Bearer ${token}` })],
    ['POST with access_token in the form', (token) => formPost({ access_token: token })],
  ])('%s: 200, the claims of its scopes, audited as token.userinfo_accessed', async (_, request) => {
    const token = await userToken();
    t.events.length = 0;
    const response = await request(token);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(await response.text())).toEqual({ sub: userId, email: 'userinfo.subject@example.org', email_verified: false });
    expect(t.events).toEqual([expect.objectContaining({ action: 'token.userinfo_accessed', userId, clientId: RP, scopes: ['openid', 'email'] })]);
  });
});
