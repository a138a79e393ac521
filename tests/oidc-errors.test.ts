import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, importJWK, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, location, signIn, startStack, type Stack } from './support/oidc';

/** Every error case with hand-made requests: status codes, RFC error codes, and what must not happen. */
describe('protocol errors', () => {
  let stack: Stack;
  const user = { email: 'eve.tester@example.org', password: 'a-long-enough-password' };
  const redirectUri = 'http://127.0.0.1:9/cb';
  let pub: string;
  let conf: { id: string; secret: string };
  let other: { id: string; secret: string };
  let url: (path: string) => string;

  beforeAll(async () => {
    stack = await startStack();
    url = (path) => `${stack.provider.url}${path}`;
    await stack.store.users.create(user);
    pub = (await stack.store.clients.create({ name: 'Public', tokenEndpointAuthMethod: 'none', redirectUris: [redirectUri] })).client.clientId;
    const c = await stack.store.clients.create({
      name: 'Conf',
      redirectUris: [redirectUri],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scopes: ['openid', 'profile', 'email', 'offline_access', 'api'],
    });
    conf = { id: c.client.clientId, secret: c.clientSecret! };
    const o = await stack.store.clients.create({
      name: 'Other',
      redirectUris: ['http://127.0.0.1:9/other'],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scopes: ['openid', 'offline_access', 'api'],
    });
    other = { id: o.client.clientId, secret: o.clientSecret! };
  });
  afterAll(() => stack?.stop());

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(url('/oidc/token'), {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };

  /** A code for the public client (or the confidential one), via the real login forms. */
  async function getCode(clientId = pub, scope = 'openid offline_access') {
    const { verifier, challenge } = pkce();
    const authorize = `${url('/oidc/authorize')}?${new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope, state: 'st', code_challenge: challenge, code_challenge_method: 'S256' })}`;
    const callback = await signIn(new BrowserAgent(stack.provider.url), authorize, user);
    return { code: callback.searchParams.get('code')!, verifier };
  }

  async function tokensFor(clientId = pub) {
    const { code, verifier } = await getCode(clientId);
    const res = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier });
    expect(res.status).toBe(200);
    return res.json() as Promise<{ access_token: string; refresh_token: string; id_token: string }>;
  }

  const expectError = async (res: Response, status: number, error: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const body = await res.json();
    expect(body.error).toBe(error);
    expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|node_modules|\.ts:/);
    return body;
  };

  it('replaying a code is refused and revokes every token issued from it', async () => {
    const { code, verifier } = await getCode();
    const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: pub, code_verifier: verifier };
    const first = await token(form);
    expect(first.status).toBe(200);
    const issued = await first.json();
    await expectError(await token(form), 400, 'invalid_grant');
    const userinfo = await fetch(url('/oidc/userinfo'), { headers: { authorization: `Bearer ${issued.access_token}` } });
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    await expectError(await token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token, client_id: pub }), 400, 'invalid_grant');
  });

  it('a wrong or missing PKCE verifier is invalid_grant', async () => {
    const a = await getCode();
    await expectError(
      await token({ grant_type: 'authorization_code', code: a.code, redirect_uri: redirectUri, client_id: pub, code_verifier: pkce().verifier }),
      400,
      'invalid_grant',
    );
    const b = await getCode();
    await expectError(await token({ grant_type: 'authorization_code', code: b.code, redirect_uri: redirectUri, client_id: pub }), 400, 'invalid_grant');
  });

  it('a code bound to another redirect_uri or another client is refused', async () => {
    const a = await getCode();
    await expectError(
      await token({ grant_type: 'authorization_code', code: a.code, redirect_uri: 'http://127.0.0.1:9/elsewhere', client_id: pub, code_verifier: a.verifier }),
      400,
      'invalid_grant',
    );
    const b = await getCode(conf.id);
    await expectError(
      await token(
        { grant_type: 'authorization_code', code: b.code, redirect_uri: redirectUri, code_verifier: b.verifier },
        { authorization: basic(other.id, other.secret) },
      ),
      400,
      'invalid_grant',
    );
  });

  it('an unknown client or unregistered redirect_uri shows an error page and never redirects', async () => {
    const evil = 'https://evil.example/steal';
    for (const query of <Record<string, string>[]>[
      { client_id: 'no-such-client', redirect_uri: evil, response_type: 'code', scope: 'openid' },
      { client_id: pub, redirect_uri: evil, response_type: 'code', scope: 'openid' },
      { client_id: pub, response_type: 'code', scope: 'openid' },
    ]) {
      const res = await fetch(`${url('/oidc/authorize')}?${new URLSearchParams(query)}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).not.toContain(evil);
    }
  });

  it('other authorization errors redirect back with error, state and iss', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ response_type: 'token', scope: 'openid' }, 'unsupported_response_type'],
      [{ response_type: 'code', scope: 'openid' }, 'invalid_request'], // public client without PKCE
      [{ response_type: 'code', scope: 'openid admin', code_challenge: pkce().challenge, code_challenge_method: 'S256' }, 'invalid_scope'],
      [{ response_type: 'code', scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'plain' }, 'invalid_request'],
      [{ response_type: 'code', scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256', prompt: 'none' }, 'login_required'],
    ];
    for (const [extra, error] of cases) {
      const res = await fetch(`${url('/oidc/authorize')}?${new URLSearchParams({ client_id: pub, redirect_uri: redirectUri, state: 'keep-me', ...extra })}`, {
        redirect: 'manual',
      });
      const target = new URL(location(res));
      expect(`${target.origin}${target.pathname}`).toBe(redirectUri);
      expect(target.searchParams.get('error'), JSON.stringify(extra)).toBe(error);
      expect(target.searchParams.get('state')).toBe('keep-me');
      expect(target.searchParams.get('iss')).toBe(stack.provider.url);
    }
  });

  it('refresh token reuse is refused and revokes the whole family', async () => {
    const first = await tokensFor();
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: pub });
    expect(rotated.status).toBe(200);
    const second = await rotated.json();
    await expectError(await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: pub }), 400, 'invalid_grant');
    // the newest token of the family died with it, and so did its access token
    await expectError(await token({ grant_type: 'refresh_token', refresh_token: second.refresh_token, client_id: pub }), 400, 'invalid_grant');
    expect((await fetch(url('/oidc/userinfo'), { headers: { authorization: `Bearer ${second.access_token}` } })).status).toBe(401);
  });

  it('refresh may narrow the scope but not widen it', async () => {
    const tokens = await tokensFor();
    const narrowed = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: pub, scope: 'openid' });
    expect(narrowed.status).toBe(200);
    expect((await narrowed.json()).scope).toBe('openid');
    const again = await tokensFor();
    await expectError(
      await token({ grant_type: 'refresh_token', refresh_token: again.refresh_token, client_id: pub, scope: 'openid email' }),
      400,
      'invalid_scope',
    );
  });

  it('client authentication failures: 401 invalid_client, with WWW-Authenticate when Basic was used', async () => {
    const wrong = await token({ grant_type: 'client_credentials' }, { authorization: basic(conf.id, 'not-the-secret') });
    await expectError(wrong, 401, 'invalid_client');
    expect(wrong.headers.get('www-authenticate')).toBe(`Basic realm="${stack.provider.url}", charset="UTF-8"`);
    const post = await token({ grant_type: 'client_credentials', client_id: conf.id, client_secret: 'nope' });
    await expectError(post, 401, 'invalid_client');
    await expectError(await token({ grant_type: 'client_credentials', client_id: conf.id }), 401, 'invalid_client');
    await expectError(await token({ grant_type: 'client_credentials' }), 401, 'invalid_client');
  });

  it('malformed token requests: JSON body, unknown grant, repeated parameter, unauthorized grant, scope escalation', async () => {
    await expectError(
      await fetch(url('/oidc/token'), {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/json', authorization: basic(conf.id, conf.secret) },
      }),
      400,
      'invalid_request',
    );
    await expectError(
      await token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, { authorization: basic(conf.id, conf.secret) }),
      400,
      'unsupported_grant_type',
    );
    // names every object inherits are no grant types either
    for (const grantType of ['__proto__', 'constructor', 'toString']) {
      await expectError(await token({ grant_type: grantType }, { authorization: basic(conf.id, conf.secret) }), 400, 'unsupported_grant_type');
    }
    await expectError(
      await fetch(url('/oidc/token'), {
        method: 'POST',
        body: 'grant_type=client_credentials&scope=api&scope=api',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(conf.id, conf.secret) },
      }),
      400,
      'invalid_request',
    );
    await expectError(await token({ grant_type: 'client_credentials', client_id: pub }), 400, 'unauthorized_client');
    await expectError(
      await token({ grant_type: 'client_credentials', scope: 'api superuser' }, { authorization: basic(conf.id, conf.secret) }),
      400,
      'invalid_scope',
    );
    await expectError(await token({ grant_type: 'authorization_code' }, { authorization: basic(conf.id, conf.secret) }), 400, 'invalid_request');
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

  it('userinfo refuses tampered, alg:none, HMAC-with-public-key, foreign, expired and non-openid tokens', async () => {
    const { access_token } = await tokensFor();
    const [h, p, s] = access_token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const jwks = (await (await fetch(url('/oidc/jwks'))).json()).keys;
    const publicJwk = jwks.find((k: { kid: string }) => k.kid === header.kid);
    const hmacKey = await importJWK({ kty: 'oct', k: Buffer.from(JSON.stringify(publicJwk)).toString('base64url') }, 'HS256');
    const foreign = await generateKeyPair('ES256');
    const bad = [
      `${h}.${b64({ ...payload, sub: 'someone-else' })}.${s}`,
      `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${p}.`,
      await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }).sign(hmacKey),
      await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid }).sign(foreign.privateKey),
      await new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'unknown-kid', jwk: await exportJWK(foreign.publicKey) })
        .sign(foreign.privateKey),
      'not-a-jwt',
    ];
    for (const forged of bad) {
      const res = await fetch(url('/oidc/userinfo'), { headers: { authorization: `Bearer ${forged}` } });
      expect(res.status, forged.slice(0, 40)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    const none = await fetch(url('/oidc/userinfo'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="userinfo"');
    // a client_credentials token (no openid scope) is not for userinfo
    const cc = await (await token({ grant_type: 'client_credentials', scope: 'api' }, { authorization: basic(conf.id, conf.secret) })).json();
    expect((await fetch(url('/oidc/userinfo'), { headers: { authorization: `Bearer ${cc.access_token}` } })).status).toBe(401);
  });

  it('an expired access token is refused', async () => {
    const short = await startStack({ ACCESS_TOKEN_TTL_SECONDS: '1' });
    try {
      const c = await short.store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['api'] });
      const res = await fetch(`${short.provider.url}/oidc/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.client.clientId, c.clientSecret!) },
      });
      const { access_token } = await res.json();
      const introspect = () =>
        fetch(`${short.provider.url}/oidc/introspect`, {
          method: 'POST',
          body: new URLSearchParams({ token: access_token }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.client.clientId, c.clientSecret!) },
        }).then((r) => r.json());
      expect(await introspect()).toMatchObject({ active: true });
      // the 1 s lifetime runs out in real time (exp has whole seconds): asked until it is over, by a deadline
      const deadline = Date.now() + 5_000;
      let answer = await introspect();
      while (answer.active && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        answer = await introspect();
      }
      expect(answer).toEqual({ active: false });
    } finally {
      await short.stop();
    }
  });

  it("a client can neither introspect nor revoke another client's tokens", async () => {
    const { code, verifier } = await getCode(conf.id);
    const mine = await (
      await token(
        { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
        { authorization: basic(conf.id, conf.secret) },
      )
    ).json();
    expect(mine.refresh_token).toEqual(expect.any(String));
    const asOther = { authorization: basic(other.id, other.secret), 'content-type': 'application/x-www-form-urlencoded' };
    const introspection = await fetch(url('/oidc/introspect'), { method: 'POST', headers: asOther, body: new URLSearchParams({ token: mine.access_token }) });
    expect(await introspection.json()).toEqual({ active: false });
    const refreshIntrospection = await fetch(url('/oidc/introspect'), {
      method: 'POST',
      headers: asOther,
      body: new URLSearchParams({ token: mine.refresh_token }),
    });
    expect(await refreshIntrospection.json()).toEqual({ active: false });
    const revoke = await fetch(url('/oidc/revoke'), { method: 'POST', headers: asOther, body: new URLSearchParams({ token: mine.refresh_token }) });
    expect(revoke.status).toBe(400);
    // still alive for its owner
    const own = await fetch(url('/oidc/introspect'), {
      method: 'POST',
      headers: { ...asOther, authorization: basic(conf.id, conf.secret) },
      body: new URLSearchParams({ token: mine.refresh_token }),
    });
    expect(await own.json()).toMatchObject({ active: true });
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

  /** Signs `agent` in as `person` through the public client and returns the tokens of that session. */
  async function sessionTokens(agent: BrowserAgent, person: { email: string; password: string }) {
    const { verifier, challenge } = pkce();
    const authorize = `${url('/oidc/authorize')}?${new URLSearchParams({ client_id: pub, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 'st', code_challenge: challenge, code_challenge_method: 'S256' })}`;
    const callback = await signIn(agent, authorize, person);
    const res = await token({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      client_id: pub,
      code_verifier: verifier,
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<{ access_token: string; id_token: string }>;
  }

  /** A prompt=none request for the public client in this browser: the code or the error it gets back. */
  async function silentAuthorize(agent: BrowserAgent, extra: Record<string, string> = {}) {
    const { challenge } = pkce();
    const query = new URLSearchParams({
      client_id: pub,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: 'quiet',
      prompt: 'none',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    const answer = new URL(location(await agent.get(`/oidc/authorize?${query}`)));
    expect(answer.origin + answer.pathname).toBe(redirectUri);
    return { code: answer.searchParams.get('code'), error: answer.searchParams.get('error') };
  }

  it('end-session from another site ends nothing without an ID token of this very session (item 6)', async () => {
    const victim = new BrowserAgent(stack.provider.url);
    const own = await sessionTokens(victim, user);
    const elsewhere = await sessionTokens(new BrowserAgent(stack.provider.url), user);
    const serviceToken = (await (await token({ grant_type: 'client_credentials', scope: 'api' }, { authorization: basic(conf.id, conf.secret) })).json())
      .access_token;
    const crossSite = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
    const endSession = (hint: string) => victim.request(`/oidc/end-session?${new URLSearchParams({ id_token_hint: hint })}`, { headers: crossSite });

    // access tokens are signed with the same keys, but are no ID tokens: an error page
    for (const hint of [serviceToken, own.access_token]) {
      const refused = await endSession(hint);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('data-testid="error-code">invalid_request<');
      expect((await silentAuthorize(victim)).code).toBeTruthy();
    }
    // a genuine ID token of another session: the user is asked, the session goes on
    const asked = await endSession(elsewhere.id_token);
    expect(location(asked)).toBe('/logout');
    expect((await silentAuthorize(victim)).code).toBeTruthy();
    // the RP holding this session's ID token signs the user out at once
    expect(location(await endSession(own.id_token))).toBe('/logout?done=1');
    expect((await silentAuthorize(victim)).error).toBe('login_required');
  });

  it('id_token_hint at the authorization endpoint: tampered is invalid_request, another user is login_required (item 17)', async () => {
    const mallory = { email: `mallory-${randomBytes(4).toString('hex')}@example.org`, password: 'mallory-long-enough-password' };
    await stack.store.users.create(mallory);
    const browser = new BrowserAgent(stack.provider.url);
    const mine = await sessionTokens(browser, user);
    const theirs = await sessionTokens(new BrowserAgent(stack.provider.url), mallory);

    const [header, payload, signature] = mine.id_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const theirSub = JSON.parse(Buffer.from(theirs.id_token.split('.')[1], 'base64url').toString()).sub;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: theirSub })).toString('base64url')}.${signature}`;
    expect(await silentAuthorize(browser, { id_token_hint: tampered })).toEqual({ code: null, error: 'invalid_request' });
    expect(await silentAuthorize(browser, { id_token_hint: theirs.id_token })).toEqual({ code: null, error: 'login_required' });
    // without prompt=none: sign in again (as whoever the hint names, or switch on purpose)
    const { challenge } = pkce();
    const interactive = await browser.get(
      `/oidc/authorize?${new URLSearchParams({ client_id: pub, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', id_token_hint: theirs.id_token, code_challenge: challenge, code_challenge_method: 'S256' })}`,
    );
    expect(new URL(location(interactive), stack.provider.url).pathname).toBe('/login');
    // the signed-in user's own hint still works silently
    expect((await silentAuthorize(browser, { id_token_hint: mine.id_token })).code).toBeTruthy();
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
