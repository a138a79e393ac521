import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import { TEST_ISSUER, testProvider } from '../test-provider';

/**
 * The authorization endpoint's errors through the HTTP bridge: an error page (never a redirect) until
 * client and redirect_uri are trusted (RFC 6749 4.1.2.1), a redirect with error, state and iss (RFC 9207)
 * after that.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');
const REDIRECT = 'https://rp.example/cb';
const PUB = 'public-app';
const EVIL = 'https://evil.example/steal';

beforeAll(async () => {
  t = await testProvider();
  await t.client({ clientId: PUB, name: 'Public', redirectUris: [REDIRECT], scopes: ['openid', 'email'], tokenEndpointAuthMethod: 'none' });
});
afterAll(() => t?.close());

const challenge = () => createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
const authorize = (query: Record<string, string>, init: { method?: string; cookie?: string } = {}) => {
  const search = new URLSearchParams(query);
  const request =
    init.method === 'POST'
      ? new Request(`${TEST_ISSUER}/oidc/authorize`, { method: 'POST', body: search, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
      : new Request(`${TEST_ISSUER}/oidc/authorize?${search}`, { headers: init.cookie ? { cookie: init.cookie } : {} });
  return handleProviderRequest(request, t.ctx, t.provider, log, null);
};

describe('untrusted client or redirect_uri: a 400 error page, never a redirect', () => {
  // the page shows RFC 6749's code and says in words what was wrong
  it.each<[string, Record<string, string>, string]>([
    ['an unknown client', { client_id: 'no-such-client', redirect_uri: EVIL }, 'The client_id is not registered'],
    ['an unregistered redirect_uri', { client_id: PUB, redirect_uri: EVIL }, 'The redirect_uri is not registered for this client'],
    ['no redirect_uri', { client_id: PUB }, 'The redirect_uri parameter is missing'],
    ['no client_id', { redirect_uri: REDIRECT }, 'The client_id parameter is missing'],
    ['a control character in a parameter', { client_id: PUB, redirect_uri: REDIRECT, state: 'a\u0000b' }, ''],
  ])('%s', async (_, query, description) => {
    const response = await authorize({ response_type: 'code', scope: 'openid', ...query });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const page = await response.text();
    expect(page).toContain('data-testid="error-code">invalid_request<');
    expect(page).toContain(description);
    expect(page).not.toContain(EVIL);
  });
});

describe('the rest: a 303 back to the client with error, state and iss', () => {
  it.each<[string, Record<string, string>, string, string?]>([
    ['response_type token', { response_type: 'token', scope: 'openid' }, 'unsupported_response_type'],
    ['no response_type', { scope: 'openid' }, 'invalid_request'],
    ['a public client without PKCE', { response_type: 'code', scope: 'openid' }, 'invalid_request'],
    ['PKCE method plain', { response_type: 'code', scope: 'openid', code_challenge: challenge(), code_challenge_method: 'plain' }, 'invalid_request'],
    [
      'a scope the client does not have',
      { response_type: 'code', scope: 'openid admin', code_challenge: challenge(), code_challenge_method: 'S256' },
      'invalid_scope',
    ],
    [
      'a request object',
      { response_type: 'code', scope: 'openid', code_challenge: challenge(), code_challenge_method: 'S256', request: 'a.b.c' },
      'request_not_supported',
    ],
    [
      'a request_uri',
      { response_type: 'code', scope: 'openid', code_challenge: challenge(), code_challenge_method: 'S256', request_uri: 'https://rp.example/r' },
      'request_uri_not_supported',
    ],
    [
      'prompt=none without a session',
      { response_type: 'code', scope: 'openid', code_challenge: challenge(), code_challenge_method: 'S256', prompt: 'none' },
      'login_required',
    ],
    [
      'prompt=none with consent still to give',
      { response_type: 'code', scope: 'openid', code_challenge: challenge(), code_challenge_method: 'S256', prompt: 'none' },
      'consent_required',
      'signed-in',
    ],
  ])('%s', async (_, extra, error, signedIn) => {
    const cookie = signedIn ? (await t.signIn()).cookie : undefined;
    for (const method of signedIn ? ['GET'] : ['GET', 'POST']) {
      const response = await authorize({ client_id: PUB, redirect_uri: REDIRECT, state: 'keep-me', ...extra }, { method, cookie });
      expect(response.status).toBe(303);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const target = new URL(response.headers.get('location')!);
      expect(`${target.origin}${target.pathname}`).toBe(REDIRECT);
      expect(target.searchParams.get('error'), method).toBe(error);
      expect(target.searchParams.get('error_description')).toBeTruthy();
      expect(target.searchParams.get('state')).toBe('keep-me');
      expect(target.searchParams.get('iss')).toBe(TEST_ISSUER);
      expect(target.searchParams.get('code')).toBeNull();
    }
  });

  it('PUT is 405 with Allow: GET, POST', async () => {
    const response = await handleProviderRequest(new Request(`${TEST_ISSUER}/oidc/authorize`, { method: 'PUT', body: '' }), t.ctx, t.provider, log, null);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });
});
