import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, startStack, type Stack } from './support/oidc';

/**
 * Protocol errors that need the real server: the fast path's request and response framing, the Node
 * server's body limit, CORS, the interaction forms' Origin checks. Each endpoint's error table is tested
 * in-process (apps/identity-provider/lib/oidc/endpoints/*.test.ts).
 */
describe('protocol errors', () => {
  let stack: Stack;
  const user = { email: 'eve.tester@example.org', password: 'a-long-enough-password' };
  const redirectUri = 'http://127.0.0.1:9/cb';
  let conf: { id: string; secret: string };
  let url: (path: string) => string;

  beforeAll(async () => {
    stack = await startStack();
    url = (path) => `${stack.provider.url}${path}`;
    await stack.store.users.create(user);
    const c = await stack.store.clients.create({
      name: 'Conf',
      redirectUris: [redirectUri],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
    });
    conf = { id: c.client.clientId, secret: c.clientSecret! };
  });
  afterAll(() => stack?.stop());

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(url('/oidc/token'), {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  const expectError = async (res: Response, status: number, error: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const body = await res.json();
    expect(body.error).toBe(error);
    expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|node_modules|\.ts:/);
    return body;
  };

  it('the fast path carries requests and error answers of the core whole: raw bodies, Basic, challenges, 405', async () => {
    const repeated = await fetch(url('/oidc/token'), {
      method: 'POST',
      body: 'grant_type=client_credentials&scope=api&scope=api',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(conf.id, conf.secret) },
    });
    await expectError(repeated, 400, 'invalid_request');
    await expectError(
      await fetch(url('/oidc/token'), {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/json', authorization: basic(conf.id, conf.secret) },
      }),
      400,
      'invalid_request',
    );
    const wrong = await token({ grant_type: 'client_credentials' }, { authorization: basic(conf.id, 'not-the-secret') });
    await expectError(wrong, 401, 'invalid_client');
    expect(wrong.headers.get('www-authenticate')).toBe(`Basic realm="${stack.provider.url}", charset="UTF-8"`);
    expect(wrong.headers.get('x-request-id')).toBeTruthy();
    const none = await fetch(url('/oidc/userinfo'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="userinfo"');
    const forged = await fetch(url('/oidc/userinfo'), { headers: { authorization: 'Bearer not-a-jwt' } });
    await expectError(forged, 401, 'invalid_token');
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="userinfo", error="invalid_token"/);
    const get = await fetch(url('/oidc/token'));
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const issued = await token({ grant_type: 'client_credentials', scope: 'api' }, { authorization: basic(conf.id, conf.secret) });
    expect(issued.status).toBe(200);
    expect(await issued.json()).toMatchObject({ token_type: 'Bearer', scope: 'api' });
  });

  it('an oversized request body gets 413 invalid_request and the server goes on serving', async () => {
    const res = await fetch(url('/oidc/token'), {
      method: 'POST',
      body: `grant_type=client_credentials&pad=${'a'.repeat(100_000)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(conf.id, conf.secret) },
    });
    await expectError(res, 413, 'invalid_request');
    await expectError(
      await token({ grant_type: 'client_credentials', scope: 'api superuser' }, { authorization: basic(conf.id, conf.secret) }),
      400,
      'invalid_scope',
    );
  });

  it('interaction forms: Origin null (our no-referrer policy) is accepted with a valid CSRF token; cross-site posts and prototype-named ids are refused cleanly', async () => {
    const agent = new BrowserAgent(stack.provider.url);
    await agent.get('/interaction/start?return_to=/');
    const csrf = await agent.csrf();
    const viaNull = await agent.postForm(
      '/interaction/login',
      { email: user.email, password: user.password, csrf, return_to: '/' },
      { origin: 'null', 'sec-fetch-site': 'same-origin' },
    );
    expect(viaNull.status).toBe(303);
    expect(viaNull.headers.get('location')).toBe('/');
    const crossSite = await agent.postForm(
      '/interaction/login',
      { email: user.email, password: user.password, csrf: await agent.csrf(), return_to: '/' },
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    for (const id of ['__proto__', 'constructor', 'toString']) {
      const login = await agent.postForm('/interaction/login', { interaction: id, email: user.email, password: user.password, csrf: await agent.csrf() });
      expect(login.status, id).toBe(400);
      expect((await agent.get(`/oidc/authorize/resume?interaction=${id}`)).status, id).toBe(400);
    }
  });

  it('CORS answers registered origins only, never with a wildcard', async () => {
    const allowed = await fetch(url('/oidc/token'), { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:9', 'access-control-request-method': 'POST' } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:9');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const denied = await fetch(url('/oidc/jwks'), { headers: { origin: 'https://evil.example' } });
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });
});
