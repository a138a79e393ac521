import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityStore, type IdentityStore } from '../packages/database-identity/src';
import { postgresTemplateClause } from '../packages/database-identity/src/testing';
import { ADMIN_DATABASE_URL, KEY_ENCRYPTION_SECRET, SESSION_SECRET } from './support/oidc';
import { APP_DIR, startProvider, type RunningProvider } from './support/server';

/**
 * Rotation without breaking anyone: two provider processes share one Postgres database and one issuer; verifiers that
 * cache the JWKS (jose's createRemoteJWKSet, told to trust its copy for the JWKS max-age and not to refetch on
 * an unknown kid within it; oauth4webapi, which keeps a copy 5 minutes and refetches on an unknown kid only
 * once it is 60 s old) verify a stream of access tokens from both instances while `keys:rotate` runs.
 * Short windows come from the configuration: JWKS max-age 5 s, margin 65 s (oauth4webapi's 60 s), tokens 20 s.
 */
const WINDOWS = {
  JWKS_MAX_AGE_SECONDS: '5',
  SIGNING_KEY_PUBLISH_MARGIN_SECONDS: '65',
  ACCESS_TOKEN_TTL_SECONDS: '20',
  ID_TOKEN_TTL_SECONDS: '20',
};
const PUBLISH_AHEAD_MS = 70_000;
/** One issuer for both instances, as behind a load balancer; each verifier fetches the JWKS from one instance. */
const ISSUER = 'http://idp.localhost';

describe('signing key rotation across two instances with caching verifiers', () => {
  let databaseUrl: string;
  let dbName: string;
  let store: IdentityStore;
  let a: RunningProvider;
  let b: RunningProvider;
  let service: { clientId: string; secret: string };

  beforeAll(async () => {
    dbName = `idp_keys_${randomBytes(6).toString('hex')}`;
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}${postgresTemplateClause()}`);
    await admin.end();
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
    // migrated, keys created and the client registered before the instances start: both see it at once
    store = await openIdentityStore({ databaseUrl, keyEncryptionSecret: KEY_ENCRYPTION_SECRET, maxConnections: 2 });
    await store.keys.ensureActiveKeys(['RS256', 'ES256']);
    const created = await store.clients.create({ name: 'API caller', grantTypes: ['client_credentials'], scopes: ['api.read'] });
    service = { clientId: created.client.clientId, secret: created.clientSecret! };
    const env = { DATABASE_URL: databaseUrl, SESSION_SECRET, KEY_ENCRYPTION_SECRET, DEMO_CLIENT: 'false', ISSUER_URL: ISSUER, ...WINDOWS };
    // one after the other: two first starts at once race to create the first administrator
    a = await startProvider(env);
    b = await startProvider(env);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await store?.close();
    const cleanup = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await cleanup.unsafe(`drop database if exists ${dbName} with (force)`);
    await cleanup.end();
  });

  const kidOf = (token: string) => decodeProtectedHeader(token).kid!;
  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { iat: number; exp: number };

  async function accessToken(provider: RunningProvider): Promise<string> {
    const res = await fetch(`${provider.url}/oidc/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${service.clientId}:${service.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api.read' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()).access_token;
  }

  it('keys:rotate publishes ahead; both instances switch at activates_at; no verifier ever fails; old tokens verify until they expire', async () => {
    // four verifiers: each library with the JWKS of instance A, and with that of instance B; every token goes to all
    type Verifier = { name: string; verify(token: string): Promise<void> };
    const verifiers: Verifier[] = [a, b].flatMap((p): Verifier[] => {
      const jwks = createRemoteJWKSet(new URL(`${p.url}/oidc/jwks`), { cacheMaxAge: 5_000, cooldownDuration: 5_000 });
      const as: oauth.AuthorizationServer = { issuer: ISSUER, jwks_uri: `${p.url}/oidc/jwks` };
      const where = p === a ? 'JWKS of A' : 'JWKS of B';
      return [
        { name: `jose (${where})`, verify: async (token) => void (await jwtVerify(token, jwks, { issuer: ISSUER, audience: ISSUER, typ: 'at+jwt' })) },
        {
          name: `oauth4webapi (${where})`,
          verify: async (token) =>
            void (await oauth.validateJwtAccessToken(as, new Request('http://rs.example/api', { headers: { authorization: `Bearer ${token}` } }), ISSUER, {
              [oauth.allowInsecureRequests]: true,
            })),
        },
      ];
    });
    const failures: string[] = [];
    const issued: { token: string; from: RunningProvider; kid: string; iat: number; exp: number }[] = [];
    const verifyAll = async (token: string, from: RunningProvider) => {
      for (const v of verifiers) {
        try {
          await v.verify(token);
        } catch (error) {
          failures.push(`${v.name}, token from ${from === a ? 'A' : 'B'}: kid ${kidOf(token)}: ${(error as Error).message}`);
        }
      }
    };

    // the stream: a token from A, then from B, each verified by every verifier
    let streaming = true;
    const stream = (async () => {
      for (let i = 0; streaming; i++) {
        const from = i % 2 ? b : a;
        const token = await accessToken(from);
        issued.push({ token, from, kid: kidOf(token), ...claimsOf(token) });
        await verifyAll(token, from);
        await new Promise((r) => setTimeout(r, 50)); // a steady rate, not a wait for anything
      }
    })();
    const until = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until('tokens from both instances', () => issued.length >= 10, 30_000);
    const oldKid = issued[0].kid;

    const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/idp.ts', 'keys:rotate', '--alg', 'ES256'], {
      cwd: APP_DIR,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_ENV: '', DATABASE_URL: databaseUrl, SESSION_SECRET, KEY_ENCRYPTION_SECRET, LOG_LEVEL: 'warn', ...WINDOWS },
    });
    expect(run.status, run.stderr).toBe(0);
    const match = /ES256: (es256-\S+) published; it signs from (\S+) on every instance; (\S+) stays published until (\S+)/.exec(run.stdout);
    expect(match, run.stdout).not.toBeNull();
    const [, newKid, activatesAtText, replacedKid] = match!;
    const activatesAt = Date.parse(activatesAtText);
    expect(replacedKid).toBe(oldKid);
    expect(activatesAt - Date.now()).toBeGreaterThan(PUBLISH_AHEAD_MS - 10_000);

    // published by both instances well before it signs (each within its key ring's 5 s check)
    const publishes = async (p: RunningProvider) => (await (await fetch(`${p.url}/oidc/jwks`)).json()).keys.some((k: { kid: string }) => k.kid === newKid);
    await until('the new key in both JWKS', async () => (await publishes(a)) && (await publishes(b)), 15_000);
    expect(activatesAt - Date.now()).toBeGreaterThan(40_000);

    // the switch, on both instances, at the database's activates_at
    const signedWithNew = (p: RunningProvider) => issued.some((t) => t.from === p && t.kid === newKid);
    await until('tokens signed with the new key by both instances', () => signedWithNew(a) && signedWithNew(b), PUBLISH_AHEAD_MS + 30_000);
    const lastOld = issued.filter((t) => t.kid === oldKid).at(-1)!;
    await until('more tokens after the switch', () => issued.filter((t) => t.kid === newKid).length >= 20, 30_000);
    for (const t of issued) {
      if (t.iat * 1000 < activatesAt - 1000) expect(t.kid, 'signed before activates_at').toBe(oldKid);
      if (t.iat * 1000 >= activatesAt + 1000) expect(t.kid, 'signed after activates_at').toBe(newKid);
    }

    // the last token of the old key keeps verifying (fresh verifiers and cached ones) until it expires
    await until('the last old token nearly expired', () => Date.now() >= (lastOld.exp - 3) * 1000, 30_000);
    await verifyAll(lastOld.token, lastOld.from);
    streaming = false;
    await stream;
    expect(failures).toEqual([]);
    expect(issued.length).toBeGreaterThan(40);

    // audited: the CLI's key.published (kid, alg and the replaced kid only)
    const events = await store.db.query<{ action: string; details: Record<string, unknown> }>(
      `select action, details from identity.audit_logs where action like 'key.%' order by created_at`,
    );
    expect(events).toContainEqual({ action: 'key.published', details: { kid: newKid, alg: 'ES256', replaces_kid: oldKid } });
  });

  it('the JWKS carries the configured max-age and answers a revalidation with 304 on the fast path', async () => {
    const first = await fetch(`${a.url}/oidc/jwks`);
    expect(first.headers.get('cache-control')).toBe('public, max-age=5');
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${a.url}/oidc/jwks`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
    // both instances publish the same document: a cache behind a load balancer revalidates against either
    expect((await fetch(`${b.url}/oidc/jwks`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });
});
