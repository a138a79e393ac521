import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedResourceRegistry } from '../resources';
import { TEST_ISSUER, testProvider } from '../test-provider';
import { MAX_RESOURCES } from '../steps/parse-form';
import { authorizationEndpoint } from './authorize';
import { discoveryDocument } from './discovery';
import { DISCOVERED_PATHS } from '../router';
import { introspectionEndpoint } from './introspect';
import { tokenEndpoint } from './token';
import { userinfoEndpoint } from './userinfo';

/**
 * RFC 8707 resource indicators against the real endpoint functions (embedded database, real keys, the
 * cached resource registry): audience, alg, lifetime and claims per resource server, invalid_target,
 * per-resource scopes, narrowing at code exchange and refresh, userinfo's audience rule, audit fields.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const API_A = 'https://api-a.example/';
const API_B = 'https://api-b.example/v1';
const API_B2 = 'urn:example:api-b2';
const SUPA = 'https://project.supabase.co';
const RP = { clientId: 'rp', redirectUri: 'https://rp.example/cb' };
let rpSecret: string;
let machine: { id: string; secret: string };
let stranger: { id: string; secret: string };
let rsMachine: { id: string; secret: string };

beforeAll(async () => {
  t = await testProvider();
  rpSecret = (
    await t.client({
      clientId: RP.clientId,
      name: 'RP',
      redirectUris: [RP.redirectUri],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'offline_access'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      firstParty: true,
    })
  ).clientSecret!;
  const created = async (clientId: string, extra: Record<string, unknown> = {}) => {
    const c = await t.client({
      clientId,
      name: clientId,
      grantTypes: ['client_credentials'],
      scopes: ['jobs'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      ...extra,
    });
    return { id: c.clientId, secret: c.clientSecret! };
  };
  machine = await created('machine');
  stranger = await created('stranger');
  rsMachine = await created('rs-machine', { accessTokenSignedResponseAlg: 'RS256' });
  await t.resourceServer({ identifier: API_A, name: 'A', scopes: ['a:read', 'a:write'], accessTokenTtlSeconds: 300, allowedClientIds: ['machine', 'rp'] });
  await t.resourceServer({
    identifier: API_B,
    name: 'B',
    scopes: ['b:read'],
    signingAlg: 'ES256',
    allowedClientIds: ['machine', 'rp'],
    extraClaims: { tenant: 'acme' },
  });
  await t.resourceServer({ identifier: API_B2, name: 'B2', scopes: ['b2:read'], signingAlg: 'ES256', allowedClientIds: ['machine'] });
  await t.resourceServer({ identifier: SUPA, name: 'Supabase', allowedClientIds: ['machine', 'rp'], supabase: {} });
});
afterAll(async () => {
  await t?.close();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const decode = (jwt: string) => {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), claims: JSON.parse(Buffer.from(p, 'base64url').toString()) };
};

async function token(body: URLSearchParams | Record<string, string>, client: { id: string; secret: string } = machine) {
  const request = new Request(`${TEST_ISSUER}/oidc/token`, {
    method: 'POST',
    body: body instanceof URLSearchParams ? body : new URLSearchParams(body),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, client.secret) },
  });
  const response = await tokenEndpoint(request, t.ctx, t.provider);
  return { status: response.status, body: JSON.parse(await response.text()) };
}
const cc = (params: [string, string][]) => token(new URLSearchParams([['grant_type', 'client_credentials'], ...params]));

async function authorize(cookie: string, params: [string, string][]) {
  const query = new URLSearchParams([['client_id', RP.clientId], ['redirect_uri', RP.redirectUri], ['response_type', 'code'], ['state', 's'], ...params]);
  const response = await authorizationEndpoint(new Request(`${TEST_ISSUER}/oidc/authorize?${query}`, { headers: { cookie } }), t.ctx, t.provider);
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get('location')!, TEST_ISSUER);
  return { code: location.searchParams.get('code'), error: location.searchParams.get('error') };
}
const rp = {
  id: RP.clientId,
  get secret() {
    return rpSecret;
  },
};
const userinfo = (accessToken: string) =>
  userinfoEndpoint(new Request(`${TEST_ISSUER}/oidc/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } }), t.ctx, t.provider);

describe('client_credentials with resource (RFC 8707)', () => {
  it('a token for one API: aud is its identifier, its alg (RS256 default), lifetime and scopes', async () => {
    const { status, body } = await cc([['resource', API_A]]);
    expect(status).toBe(200);
    const { header, claims } = decode(body.access_token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(typeof header.kid).toBe('string');
    expect(claims).toMatchObject({ iss: TEST_ISSUER, aud: API_A, sub: 'machine', client_id: 'machine', scope: 'a:read a:write' });
    expect(claims.exp - claims.iat).toBe(300);
    expect(body.expires_in).toBe(300);
    const event = t.events.findLast((e) => e.action === 'token.issued.client_credentials')!;
    expect(event.audience).toBe(API_A);
    expect(event.details).toMatchObject({ resources: [API_A], jti: claims.jti });
  });

  it('without resource: the issuer as aud, ES256, the client scopes that no API defines; per-client alg', async () => {
    const { body } = await cc([]);
    const { header, claims } = decode(body.access_token);
    expect(header.alg).toBe('ES256');
    expect(claims).toMatchObject({ aud: TEST_ISSUER, scope: 'jobs' });
    expect(t.events.findLast((e) => e.action === 'token.issued.client_credentials')!.audience).toBeUndefined();
    const rs = await token({ grant_type: 'client_credentials' }, rsMachine);
    expect(decode(rs.body.access_token).header.alg).toBe('RS256');
    expect(decode(rs.body.access_token).claims.aud).toBe(TEST_ISSUER);
    // the resource's alg wins over the client's for resource tokens
    await t.store.resourceServers.update(API_B, { allowedClientIds: ['machine', 'rp', 'rs-machine'] });
    t.provider.resources.invalidate();
    const forB = await token({ grant_type: 'client_credentials', resource: API_B }, rsMachine);
    expect(decode(forB.body.access_token).header.alg).toBe('ES256');
  });

  it('unknown, not allowed, malformed, too many: invalid_target (400), and no token', async () => {
    const cases: [string, string][][] = [
      [['resource', 'https://unknown.example/']],
      [['resource', 'https://api-a.example/#frag']],
      [['resource', '/relative']],
      [['resource', 'https://api-a.example/ x']],
      [['resource', `https://api-a.example/${'x'.repeat(600)}`]],
      Array.from({ length: MAX_RESOURCES + 1 }, (_, i) => ['resource', `https://r${i}.example/`] as [string, string]),
    ];
    for (const params of cases) {
      const { status, body } = await cc(params);
      expect(status, JSON.stringify(params).slice(0, 80)).toBe(400);
      expect(body.error).toBe('invalid_target');
    }
    const notAllowed = await token({ grant_type: 'client_credentials', resource: API_A }, stranger);
    expect(notAllowed).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });

  it('an API scope only with its resource: invalid_scope otherwise', async () => {
    expect((await cc([['scope', 'a:read']])).body.error).toBe('invalid_scope');
    expect(
      (
        await cc([
          ['resource', API_B],
          ['scope', 'a:read'],
        ])
      ).body.error,
    ).toBe('invalid_scope');
    const ok = await cc([
      ['resource', API_A],
      ['scope', 'a:read'],
    ]);
    expect(decode(ok.body.access_token).claims.scope).toBe('a:read');
  });

  it('repeated resource parameters: one token for several APIs that agree, aud sorted, audit joined by a space', async () => {
    const { status, body } = await cc([
      ['resource', API_B2],
      ['resource', API_B],
      ['resource', API_B],
    ]);
    expect(status).toBe(200);
    const { claims } = decode(body.access_token);
    expect(claims.aud).toEqual([API_B, API_B2].sort());
    expect(claims.tenant).toBe('acme');
    const event = t.events.findLast((e) => e.action === 'token.issued.client_credentials')!;
    expect(event.audience).toBe([API_B, API_B2].sort().join(' '));
    expect(event.details!.resources).toEqual([API_B, API_B2].sort());
    // different algs cannot share a token
    expect(
      (
        await cc([
          ['resource', API_A],
          ['resource', API_B],
        ])
      ).body.error,
    ).toBe('invalid_target');
  });

  it('a Supabase project: role authenticated and aud authenticated beside the identifier', async () => {
    const { claims } = decode((await cc([['resource', SUPA]])).body.access_token);
    expect(claims.role).toBe('authenticated');
    expect(claims.aud).toEqual([SUPA, 'authenticated']);
  });

  it('introspection answers for resource tokens too (aud as issued)', async () => {
    const { body } = await cc([['resource', API_A]]);
    const request = new Request(`${TEST_ISSUER}/oidc/introspect`, {
      method: 'POST',
      body: new URLSearchParams({ token: body.access_token }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(machine.id, machine.secret) },
    });
    const answer = JSON.parse(await (await introspectionEndpoint(request, t.ctx, t.provider)).text());
    expect(answer).toMatchObject({ active: true, aud: API_A, client_id: 'machine' });
  });
});

describe('authorization code and refresh with resource', () => {
  it('resources granted at authorize become the aud; OpenID tokens also carry the issuer for userinfo', async () => {
    const user = await t.signIn();
    const { code } = await authorize(user.cookie, [
      ['scope', 'openid a:read b:read offline_access'],
      ['resource', API_A],
      ['resource', API_B],
    ]);
    expect(code).toBeTruthy();
    // a token for A alone (narrowed at the token endpoint): B's scope is left out
    const exchanged = await token({ grant_type: 'authorization_code', code: code!, redirect_uri: RP.redirectUri, resource: API_A }, rp);
    expect(exchanged.status).toBe(200);
    const { header, claims } = decode(exchanged.body.access_token);
    expect(header.alg).toBe('RS256');
    expect(claims.aud).toEqual([API_A, TEST_ISSUER]);
    expect(claims.scope).toBe('openid a:read offline_access');
    expect((await userinfo(exchanged.body.access_token)).status).toBe(200);
    const issued = t.events.findLast((e) => e.action === 'token.issued.authorization_code')!;
    expect(issued.audience).toBe(API_A);
    const familyId = issued.details!.family_id;

    // a refresh may narrow to another granted resource; one never granted is invalid_target and costs nothing
    const refused = await token({ grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token, resource: API_B2 }, rp);
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const toB = await token({ grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token, resource: API_B }, rp);
    expect(toB.status).toBe(200);
    expect(decode(toB.body.access_token).header.alg).toBe('ES256');
    expect(decode(toB.body.access_token).claims).toMatchObject({ aud: [API_B, TEST_ISSUER], scope: 'openid b:read offline_access', tenant: 'acme' });
    const refreshed = t.events.findLast((e) => e.action === 'token.issued.refresh_token')!;
    expect(refreshed).toMatchObject({ audience: API_B, details: { family_id: familyId, resources: [API_B] } });
    // without resource: every granted resource (they disagree on alg, so one of them must be named)
    const all = await token({ grant_type: 'refresh_token', refresh_token: toB.body.refresh_token }, rp);
    expect(all.body.error).toBe('invalid_target');
    const again = await token({ grant_type: 'refresh_token', refresh_token: toB.body.refresh_token, resource: API_A }, rp);
    expect(again.status).toBe(200);
  });

  it('userinfo refuses a token whose audience lacks the default audience', async () => {
    const user = await t.signIn();
    const { code } = await authorize(user.cookie, [
      ['scope', 'a:read'],
      ['resource', API_A],
    ]);
    const exchanged = await token({ grant_type: 'authorization_code', code: code!, redirect_uri: RP.redirectUri }, rp);
    expect(decode(exchanged.body.access_token).claims.aud).toBe(API_A);
    const refused = await userinfo(exchanged.body.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('authorize: unknown resource and orphan API scopes redirect with invalid_target / invalid_scope', async () => {
    const user = await t.signIn();
    expect(
      (
        await authorize(user.cookie, [
          ['scope', 'openid'],
          ['resource', 'https://unknown.example/'],
        ])
      ).error,
    ).toBe('invalid_target');
    expect(
      (
        await authorize(user.cookie, [
          ['scope', 'openid'],
          ['resource', API_B2],
        ])
      ).error,
    ).toBe('invalid_target'); // rp not allowed
    expect((await authorize(user.cookie, [['scope', 'openid a:read']])).error).toBe('invalid_scope');
    expect(
      (
        await authorize(user.cookie, [
          ['scope', 'openid'],
          ['resource', API_A],
          ['resource', API_B],
        ])
      ).code,
    ).toBeTruthy();
  });

  it('a code exchange may not widen to a resource that was not granted', async () => {
    const user = await t.signIn();
    const { code } = await authorize(user.cookie, [['scope', 'openid']]);
    const exchanged = await token({ grant_type: 'authorization_code', code: code!, redirect_uri: RP.redirectUri, resource: API_A }, rp);
    expect(exchanged).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });
});

describe('registry and discovery', () => {
  it('discovery lists the access-token algs', () => {
    expect(discoveryDocument(t.provider.settings, DISCOVERED_PATHS).access_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
  });

  it('refuses OpenID scopes, reserved claims, bad identifiers and duplicates', async () => {
    await expect(t.store.resourceServers.create({ identifier: 'https://x.example', name: 'x', scopes: ['openid'] })).rejects.toThrow(/OpenID/);
    await expect(t.store.resourceServers.create({ identifier: 'https://x.example', name: 'x', extraClaims: { aud: 'x' } })).rejects.toThrow(
      /set by the provider/,
    );
    await expect(t.store.resourceServers.create({ identifier: 'https://x.example#f', name: 'x' })).rejects.toThrow(/fragment/);
    await expect(t.store.resourceServers.create({ identifier: 'not a uri', name: 'x' })).rejects.toThrow(/identifier/);
    await expect(t.store.resourceServers.create({ identifier: API_A, name: 'again' })).rejects.toThrow(/already exists/);
  });

  it('the registry: a server registered elsewhere is found on first use (a miss looks again), a deleted one goes at the next check', async () => {
    let clock = 1_000_000;
    const registry = cachedResourceRegistry(t.store.resourceServers, { now: () => clock });
    const late = 'https://late.example/';
    expect((await registry.index([late])).byIdentifier.has(late)).toBe(false);
    await t.store.resourceServers.create({ identifier: late, name: 'late', allowedClientIds: ['machine'] });
    clock += 300; // misses look again at most every 250 ms
    expect((await registry.index([late])).byIdentifier.get(late)?.name).toBe('late');
    await t.store.resourceServers.delete(late);
    expect((await registry.index()).byIdentifier.has(late)).toBe(true); // fresh for 2 s
    clock += 2_001;
    expect((await registry.index()).byIdentifier.has(late)).toBe(false);
  });
});
