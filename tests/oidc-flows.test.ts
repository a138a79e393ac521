import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserAgent, location, signIn, startStack, type Stack } from './support/oidc';
import { until } from './support/server';

/**
 * Every flow driven by openid-client, a certified relying-party library: it validates discovery, the
 * RFC 9207 iss parameter, ID token signatures and claims, at_hash, nonce and state on its own.
 */
describe('OpenID Connect flows with openid-client', () => {
  let stack: Stack;
  const alice = { email: 'alice@example.org', password: 'alice-very-long-password' };
  let aliceId: string;
  let spa: { clientId: string };
  let web: { clientId: string; secret: string };
  let service: { clientId: string; secret: string };
  const spaRedirect = 'http://127.0.0.1:9/spa/callback';
  const webRedirect = 'http://127.0.0.1:9/web/callback';

  beforeAll(async () => {
    // the key ring re-checks the key set every KEY_RING_CHECK_MS (5 s by default): the rotation test waits for it
    stack = await startStack({ KEY_RING_CHECK_MS: '200' });
    aliceId = (await stack.store.users.create({ ...alice, name: 'Alice Liddell', emailVerified: true })).id;
    spa = (
      await stack.store.clients.create({
        name: 'SPA',
        tokenEndpointAuthMethod: 'none',
        redirectUris: [spaRedirect],
        postLogoutRedirectUris: ['http://127.0.0.1:9/spa/bye'],
      })
    ).client;
    const created = await stack.store.clients.create({ name: 'Web app', redirectUris: [webRedirect], idTokenSignedResponseAlg: 'ES256' });
    web = { clientId: created.client.clientId, secret: created.clientSecret! };
    const svc = await stack.store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read', 'api.write'] });
    service = { clientId: svc.client.clientId, secret: svc.clientSecret! };
  });
  afterAll(() => stack?.stop());

  const discover = (clientId: string, auth: client.ClientAuth, metadata: Partial<client.ClientMetadata> = {}) =>
    client.discovery(new URL(stack.provider.url), clientId, metadata, auth, { execute: [client.allowInsecureRequests] });

  async function codeFlow(config: client.Configuration, redirectUri: string, scope = 'openid profile email offline_access') {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const agent = new BrowserAgent(stack.provider.url);
    const callback = await signIn(agent, url.toString(), alice);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { tokens, agent };
  }

  it('publishes discovery metadata that names every endpoint and capability', async () => {
    const config = await discover(spa.clientId, client.None());
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(stack.provider.url);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    expect(meta.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256', 'ES256']));
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'revocation_endpoint',
      'introspection_endpoint',
      'end_session_endpoint',
    ]) {
      expect(meta[key], key).toMatch(new RegExp(`^${stack.provider.url}/`));
    }
    const jwks = await (await fetch(meta.jwks_uri!)).json();
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kid: expect.any(String), alg: expect.stringMatching(/^(RS256|ES256)$/), use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('public client: code + PKCE, ID token validated, userinfo, refresh rotation, logout', async () => {
    const config = await discover(spa.clientId, client.None());
    const { tokens, agent } = await codeFlow(config, spaRedirect);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(aliceId);
    expect(claims.aud).toBe(spa.clientId);
    expect(claims.auth_time).toEqual(expect.any(Number));
    expect(claims.sid).toEqual(expect.any(String));
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const info = await client.fetchUserInfo(config, tokens.access_token, aliceId);
    expect(info).toMatchObject({ sub: aliceId, email: alice.email, email_verified: true, name: 'Alice Liddell' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(aliceId);
    await expect(client.fetchUserInfo(config, refreshed.access_token, aliceId)).resolves.toMatchObject({ sub: aliceId });

    // RP-initiated logout ends the provider session: the next prompt=none request needs a login
    const logoutUrl = client.buildEndSessionUrl(config, {
      id_token_hint: refreshed.id_token!,
      post_logout_redirect_uri: 'http://127.0.0.1:9/spa/bye',
      state: 'bye-state',
    });
    const logout = await agent.get(logoutUrl.toString());
    expect(location(logout)).toBe('http://127.0.0.1:9/spa/bye?state=bye-state');
    const silent = client.buildAuthorizationUrl(config, {
      redirect_uri: spaRedirect,
      scope: 'openid',
      prompt: 'none',
      state: 's2',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const answer = new URL(location(await agent.get(silent.toString())));
    expect(answer.searchParams.get('error')).toBe('login_required');
    expect(answer.searchParams.get('state')).toBe('s2');
    expect(answer.searchParams.get('iss')).toBe(stack.provider.url);
  });

  it('confidential client: code + PKCE with client_secret_basic, ES256 ID tokens, introspection and revocation', async () => {
    const config = await discover(web.clientId, client.ClientSecretBasic(web.secret), { id_token_signed_response_alg: 'ES256' });
    const { tokens } = await codeFlow(config, webRedirect, 'openid email offline_access');
    expect(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0], 'base64url').toString()).alg).toBe('ES256');

    const active = await client.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: web.clientId, sub: aliceId, scope: 'openid email offline_access', token_type: 'Bearer' });
    const refreshInfo = await client.tokenIntrospection(config, tokens.refresh_token!);
    expect(refreshInfo).toMatchObject({ active: true, token_type: 'refresh_token', client_id: web.clientId });

    await client.tokenRevocation(config, tokens.access_token);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    await expect(client.fetchUserInfo(config, tokens.access_token, aliceId)).rejects.toThrow();
    // revoking the refresh token ends the grant
    await client.tokenRevocation(config, tokens.refresh_token!);
    expect(await client.tokenIntrospection(config, tokens.refresh_token!)).toEqual({ active: false });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('client credentials: an RFC 9068 access token for the client itself, no ID or refresh token', async () => {
    const config = await discover(service.clientId, client.ClientSecretBasic(service.secret));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
    expect(tokens.scope).toBe('api.read');
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.refresh_token).toBeUndefined();
    const [header, payload] = tokens.access_token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid: expect.any(String) });
    expect(payload).toMatchObject({ iss: stack.provider.url, sub: service.clientId, client_id: service.clientId, scope: 'api.read', aud: stack.provider.url });
    expect(payload.exp - payload.iat).toBe(900);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, sub: service.clientId });
  });

  it('signing key rotation: old tokens keep verifying, new tokens use the new key, both published', async () => {
    const config = await discover(spa.clientId, client.None());
    const before = await codeFlow(config, spaRedirect, 'openid');
    const oldKid = JSON.parse(Buffer.from(before.tokens.access_token.split('.')[0], 'base64url').toString()).kid;
    // an emergency rotation: the new key signs as soon as the provider's key ring has loaded it (its next check)
    const fresh = (await stack.store.keys.rotateImmediately('ES256', 3600)).key;
    await until(
      'the new key in the JWKS',
      async () => {
        const { keys } = await (await fetch(`${stack.provider.url}/oidc/jwks`)).json();
        return keys.some((k: { kid: string }) => k.kid === fresh.kid) ? true : undefined;
      },
      10_000,
    );
    const after = await codeFlow(config, spaRedirect, 'openid');
    const newKid = JSON.parse(Buffer.from(after.tokens.access_token.split('.')[0], 'base64url').toString()).kid;
    expect(newKid).toBe(fresh.kid);
    const kids = (await (await fetch(`${stack.provider.url}/oidc/jwks`)).json()).keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    await expect(client.fetchUserInfo(config, before.tokens.access_token, aliceId)).resolves.toMatchObject({ sub: aliceId });
  });
});
