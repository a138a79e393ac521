import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleProviderRequest } from '../../http/edge';
import { createLogger } from '../../log';
import { TEST_ISSUER, testProvider } from '../test-provider';
import { issueAccessToken, issueIdToken } from '../tokens';

/**
 * RP-Initiated Logout through the HTTP bridge: what id_token_hint, client_id, post_logout_redirect_uri and
 * state each decide, GET and POST. (Which hints end a session at once is in hostile-input.test.ts.)
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const log = createLogger('silent');
const RP = { clientId: 'logout-rp', postLogout: 'https://rp.example/bye' };
const OTHER = { clientId: 'other-rp', postLogout: 'https://other.example/bye' };

beforeAll(async () => {
  t = await testProvider();
  for (const client of [RP, OTHER]) {
    await t.client({
      clientId: client.clientId,
      name: client.clientId,
      redirectUris: [`${client.postLogout}/cb`],
      postLogoutRedirectUris: [client.postLogout],
    });
  }
});
afterAll(() => t?.close());

const endSession = (params: Record<string, string>, init: { method?: 'GET' | 'POST'; cookie?: string } = {}) => {
  const search = new URLSearchParams(params);
  const headers: Record<string, string> = init.cookie ? { cookie: init.cookie } : {};
  const request =
    init.method === 'POST'
      ? new Request(`${TEST_ISSUER}/oidc/end-session`, {
          method: 'POST',
          body: search,
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        })
      : new Request(`${TEST_ISSUER}/oidc/end-session?${search}`, { headers });
  return handleProviderRequest(request, t.ctx, t.provider, log, null);
};
const hintFor = async (user: { userId: string; sid: string }, clientId = RP.clientId) =>
  (await issueIdToken(t.provider, { subject: user.userId, clientId, alg: 'RS256', authTime: t.provider.now(), sid: user.sid })).token;

describe.each(['GET', 'POST'] as const)('%s /oidc/end-session', (method) => {
  it.each<[string, (hint: string, accessToken: string) => Record<string, string>]>([
    ['an access token of this very session as hint', (_hint, accessToken) => ({ id_token_hint: accessToken, post_logout_redirect_uri: RP.postLogout })],
    ['an unregistered post_logout_redirect_uri', (hint) => ({ id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/bye' })],
    ["another client's post_logout_redirect_uri", (hint) => ({ id_token_hint: hint, post_logout_redirect_uri: OTHER.postLogout })],
    ['post_logout_redirect_uri with neither hint nor client_id', () => ({ post_logout_redirect_uri: RP.postLogout })],
    ['a client_id that is not the hint audience', (hint) => ({ id_token_hint: hint, client_id: OTHER.clientId })],
    ['a hint that is no JWT', () => ({ id_token_hint: 'not-a-jwt' })],
    ['a control character in state', (hint) => ({ id_token_hint: hint, state: 'a\u0001' })],
  ])('%s: a 400 error page, no redirect, the session left alone', async (_, params) => {
    const user = await t.signIn();
    t.events.length = 0;
    const accessToken = (await issueAccessToken(t.provider, { subject: user.userId, clientId: RP.clientId, scope: ['openid'], sid: user.sid })).token;
    const response = await endSession(params(await hintFor(user), accessToken), { method, cookie: user.cookie });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.text()).toContain('data-testid="error-code">invalid_request<');
    expect(await t.store.sessions.findActive(user.sid)).not.toBeNull();
    expect(t.events).toEqual([]);
  });

  it('the hint of this session: ended at once, back to post_logout_redirect_uri with state, audited', async () => {
    const user = await t.signIn();
    t.events.length = 0;
    const response = await endSession(
      { id_token_hint: await hintFor(user), post_logout_redirect_uri: RP.postLogout, state: 'st&x' },
      { method, cookie: user.cookie },
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${RP.postLogout}?state=st%26x`);
    expect(response.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect(await t.store.sessions.findActive(user.sid)).toBeNull();
    expect(t.events).toEqual([expect.objectContaining({ action: 'auth.logout', userId: user.userId, clientId: RP.clientId })]);
  });

  it('no hint, client_id and a registered URI: the user is asked first (/logout), the session goes on', async () => {
    const user = await t.signIn();
    const response = await endSession({ client_id: RP.clientId, post_logout_redirect_uri: RP.postLogout, state: 's' }, { method, cookie: user.cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/logout');
    expect(response.headers.get('set-cookie')).toBeTruthy();
    expect(await t.store.sessions.findActive(user.sid)).not.toBeNull();
  });

  it('a browser without a session: straight to post_logout_redirect_uri, or the done page without one', async () => {
    const user = await t.signIn();
    const hint = await hintFor(user);
    expect((await endSession({ id_token_hint: hint, post_logout_redirect_uri: RP.postLogout, state: 'st' }, { method })).headers.get('location')).toBe(
      `${RP.postLogout}?state=st`,
    );
    expect((await endSession({ id_token_hint: hint }, { method })).headers.get('location')).toBe('/logout?done=1');
    expect(await t.store.sessions.findActive(user.sid)).not.toBeNull();
  });
});

it('PUT is 405 with Allow: GET, POST', async () => {
  const response = await handleProviderRequest(new Request(`${TEST_ISSUER}/oidc/end-session`, { method: 'PUT', body: '' }), t.ctx, t.provider, log, null);
  expect(response.status).toBe(405);
  expect(response.headers.get('allow')).toBe('GET, POST');
});
