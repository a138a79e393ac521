import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import { TEST_ISSUER, testProvider } from '../test-provider';

/** Discovery and JWKS through the HTTP bridge: methods, 405 with Allow, caching headers, CORS preflight. */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');

beforeAll(async () => {
  t = await testProvider();
});
afterAll(() => t?.close());

const send = (path: string, init: RequestInit = {}) => handleProviderRequest(new Request(`${TEST_ISSUER}${path}`, init), t.ctx, t.provider, log, null);

describe.each<[string, string, string, () => string]>([
  ['discovery', '/.well-known/openid-configuration', 'application/json; charset=utf-8', () => 'public, max-age=3600'],
  ['JWKS', '/oidc/jwks', 'application/jwk-set+json; charset=utf-8', () => `public, max-age=${t.provider.settings.jwksMaxAgeSeconds}`],
])('%s', (_, path, contentType, cacheControl) => {
  it('GET: 200, its content type, public caching and the request id', async () => {
    const response = await send(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(contentType);
    expect(response.headers.get('cache-control')).toBe(cacheControl());
    expect(response.headers.get('x-request-id')).toBe(t.ctx.requestId);
    expect(JSON.parse(await response.text())).toBeTypeOf('object');
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s is 405 with Allow: GET and no body', async (method) => {
    const response = await send(path, { method, ...(method === 'DELETE' ? {} : { body: 'x' }) });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.text()).toBe('');
  });

  it('OPTIONS is a 204 preflight, with CORS headers only for a registered origin', async () => {
    const preflight = await send(path, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('discovery document', () => {
  it('names this issuer and its endpoints under it, and only what is implemented', async () => {
    const document = JSON.parse(await (await send('/.well-known/openid-configuration')).text());
    expect(document.issuer).toBe(TEST_ISSUER);
    for (const name of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'revocation_endpoint',
      'introspection_endpoint',
      'end_session_endpoint',
    ]) {
      expect(document[name], name).toMatch(new RegExp(`^${TEST_ISSUER}/`));
    }
    expect(document.response_types_supported).toEqual(['code']);
    expect(document.code_challenge_methods_supported).toEqual(['S256']);
    expect(document.grant_types_supported).toEqual(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(document.introspection_endpoint_auth_methods_supported).not.toContain('none');
    expect(document.authorization_response_iss_parameter_supported).toBe(true);
  });
});

describe('JWKS', () => {
  it('public halves only, with an ETag that answers a revalidation with 304 and the same caching headers', async () => {
    const first = await send('/oidc/jwks');
    const etag = first.headers.get('etag')!;
    const { keys } = JSON.parse(await first.text());
    expect(keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const key of keys) for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
    const again = await send('/oidc/jwks', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe(first.headers.get('cache-control'));
    const stale = await send('/oidc/jwks', { headers: { 'if-none-match': '"some-older-tag"' } });
    expect(stale.status).toBe(200);
  });
});
