import { join } from 'node:path';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityStore } from '../packages/database-identity/src';
import { embeddedTemplate } from '../packages/database-identity/src/testing';
import { BrowserAgent, KEY_ENCRYPTION_SECRET, SESSION_SECRET, signIn, startStack } from './support/oidc';
import { startProvider, until, type RunningProvider } from './support/server';

/**
 * The provider hosted by Next's own server (`next start`, no server.ts): every protocol path is a route
 * handler, and instrumentation.ts must build the container and start the maintenance loop. Once on the
 * embedded database, once on a server database (DATABASE_URL).
 */
const alice = { email: 'alice@example.org', password: 'alice-very-long-password' };
const redirectUri = 'http://127.0.0.1:9/web/callback';
// short production intervals, so the test waits for conditions and not for minutes
const FAST = { MAINTENANCE_INTERVAL_MS: '300', LOG_LEVEL: 'info' };

interface Seeded {
  aliceId: string;
  web: { clientId: string; secret: string };
  service: { clientId: string; secret: string };
}

async function seed(store: Awaited<ReturnType<typeof openIdentityStore>>): Promise<Seeded> {
  const aliceId = (await store.users.create({ ...alice, name: 'Alice Liddell', emailVerified: true })).id;
  const web = await store.clients.create({ name: 'Web app', redirectUris: [redirectUri] });
  const svc = await store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read'] });
  return { aliceId, web: { clientId: web.client.clientId, secret: web.clientSecret! }, service: { clientId: svc.client.clientId, secret: svc.clientSecret! } };
}

function hostedByNext(name: string, start: () => Promise<{ provider: RunningProvider; seeded: Seeded; stop(): Promise<unknown> }>) {
  describe(`next start, ${name}`, () => {
    let provider: RunningProvider;
    let seeded: Seeded;
    let stop: () => Promise<unknown>;
    beforeAll(async () => {
      ({ provider, seeded, stop } = await start());
    }, 120_000);
    afterAll(() => stop?.());

    const discover = (clientId: string, secret: string) =>
      client.discovery(new URL(provider.url), clientId, {}, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });

    it('serves discovery, JWKS and client_credentials through the route handlers', async () => {
      const config = await discover(seeded.service.clientId, seeded.service.secret);
      expect(config.serverMetadata().issuer).toBe(provider.url);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)), {
        issuer: provider.url,
        typ: 'at+jwt',
      });
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({ sub: seeded.service.clientId, scope: 'api.read' });
      expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true });
    });

    it('runs a code flow with PKCE through login and consent, then userinfo', async () => {
      const config = await discover(seeded.web.clientId, seeded.web.secret);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid profile email',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const callback = await signIn(new BrowserAgent(provider.url), url.toString(), alice);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      expect(tokens.claims()!.sub).toBe(seeded.aliceId);
      expect(await client.fetchUserInfo(config, tokens.access_token, seeded.aliceId)).toMatchObject({ sub: seeded.aliceId, email: alice.email });
    });

    it('starts the maintenance loop from instrumentation.ts, once', async () => {
      const maintenance = await until('a maintenance round', async () => {
        const body = await (await fetch(`${provider.url}/api/health/ready`)).json();
        return body.checks.maintenance.rounds >= 2 ? body.checks.maintenance : undefined;
      });
      expect(maintenance).toMatchObject({
        status: 'ok',
        jobs: { sealRollups: 'ok', signingKeys: 'ok', purgeExpired: 'ok', ensurePartitions: 'ok', applyRetention: 'ok' },
      });
      expect(provider.output().match(/identity provider started in Next/g)).toHaveLength(1);
    });
  });
}

hostedByNext('embedded database', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dataDir = mkdtempSync(join(tmpdir(), 'idp-next-'));
  // PGlite admits one process: seed before the provider opens it
  const store = await openIdentityStore({ dataDir: join(dataDir, 'pglite'), keyEncryptionSecret: KEY_ENCRYPTION_SECRET, embeddedTemplate: embeddedTemplate() });
  const seeded = await seed(store);
  await store.close();
  const provider = await startProvider({ DATA_DIR: dataDir, SESSION_SECRET, KEY_ENCRYPTION_SECRET, ...FAST }, 'next-start');
  return { provider, seeded, stop: () => provider.stop() };
});

hostedByNext('DATABASE_URL', async () => {
  const stack = await startStack(FAST, 'next-start');
  return { provider: stack.provider, seeded: await seed(stack.store), stop: () => stack.stop() };
});

describe('the custom server as host', () => {
  it('starts maintenance itself; instrumentation.ts stands back', async () => {
    const provider = await startProvider({ ...FAST, SESSION_SECRET, KEY_ENCRYPTION_SECRET });
    try {
      const maintenance = await until('a maintenance round', async () => {
        const body = await (await fetch(`${provider.url}/api/health/ready`)).json();
        return body.checks.maintenance.rounds >= 1 ? body.checks.maintenance : undefined;
      });
      expect(maintenance.status).toBe('ok');
      expect(provider.output()).toContain('identity provider listening');
      expect(provider.output()).not.toContain('identity provider started in Next');
    } finally {
      await provider.stop();
    }
  }, 120_000);
});
