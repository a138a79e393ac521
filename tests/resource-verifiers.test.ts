import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { expressjwt } from 'express-jwt';
import { auth as oauth2JwtBearer } from 'express-oauth2-jwt-bearer';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyJwtJwks from 'fastify-jwt-jwks';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jwksRsa from 'jwks-rsa';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../apps/identity-provider/cli/idp';
import { loadConfig } from '../apps/identity-provider/lib/env';
import { KEY_ENCRYPTION_SECRET, SESSION_SECRET, startStack, type Stack } from './support/oidc';

/**
 * Issue #14: access tokens that real APIs can verify. The running provider (the production build) with two
 * resource servers registered through the admin CLI: API A signs RS256 (the default for APIs), API B ES256.
 * Each verifier library an API would use checks the tokens the way its documentation says, against the
 * provider's discovery document and JWKS over HTTP; express and fastify apps run in this process on free
 * ports. A token for A is refused at B and the reverse, in every verifier; a token without `resource`
 * (aud = the issuer) is refused by both APIs.
 */
const API_A = 'https://api-a.example/';
const API_B = 'urn:example:api-b';

describe('resource tokens at real verifier libraries', () => {
  let stack: Stack;
  let issuer: string;
  let jwksUri: string;
  const servers: Server[] = [];
  let fastifyApp: FastifyInstance;
  const tokens: Record<'a' | 'b' | 'none', string> = { a: '', b: '', none: '' };

  beforeAll(async () => {
    stack = await startStack();
    issuer = stack.provider.url;
    jwksUri = `${issuer}/oidc/jwks`;
    const config = loadConfig({
      DATABASE_URL: stack.databaseUrl,
      KEY_ENCRYPTION_SECRET,
      SESSION_SECRET,
      ISSUER_URL: issuer,
      LOG_LEVEL: 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'idp-cli-')),
      DEMO_CLIENT: 'false',
    });
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      expect(await runCli(args, config, (line) => lines.push(line))).toBe(0);
      return lines;
    };
    const created = await cli('clients:create', '--name', 'Worker', '--grant', 'client_credentials', '--scope', 'jobs', '--client-id', 'worker');
    const secret = created.find((l) => l.startsWith('client_secret'))!.split(': ')[1];
    await cli('resources:create', '--identifier', API_A, '--name', 'API A', '--scope', 'a:read', '--allow-client', 'worker');
    await cli('resources:create', '--identifier', API_B, '--name', 'API B', '--scope', 'b:read', '--alg', 'ES256', '--ttl', '600', '--allow-client', 'worker');
    expect((await cli('resources:list')).join('\n')).toMatch(/api-a\.example\/ {2}"API A" {2}RS256[\s\S]*api-b {2}"API B" {2}ES256 {2}ttl=600/);

    const token = async (resource?: string) => {
      const response = await fetch(`${issuer}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`worker:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...(resource ? { resource } : {}) }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { access_token: string }).access_token;
    };
    tokens.a = await token(API_A);
    tokens.b = await token(API_B);
    tokens.none = await token();
    const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
    expect([headerOf(tokens.a).alg, headerOf(tokens.b).alg, headerOf(tokens.none).alg]).toEqual(['RS256', 'ES256', 'ES256']);

    fastifyApp = Fastify();
    // fastify-jwt-jwks verifies RS256 (and EdDSA) only: API A's side of the matrix
    await fastifyApp.register(fastifyJwtJwks, { jwksUrl: jwksUri, audience: API_A, issuer });
    fastifyApp.get('/a', { preValidation: fastifyApp.authenticate }, async (request) => ({ sub: (request.user as { sub: string }).sub }));
    await fastifyApp.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((ok) => server.close(ok))));
    await fastifyApp?.close();
    await stack?.stop();
  });

  /** An express app with one route per API, each behind the middleware `guard` makes for its audience and alg. */
  async function expressApis(guard: (audience: string, alg: 'RS256' | 'ES256') => RequestHandler): Promise<string> {
    const app = express();
    app.get('/a', guard(API_A, 'RS256'), (_req, res) => void res.json({ ok: true }));
    app.get('/b', guard(API_B, 'ES256'), (_req, res) => void res.json({ ok: true }));
    const onError: ErrorRequestHandler = (error, _req, res, _next) =>
      void res.status((error as { status?: number }).status ?? 500).json({ error: String((error as Error).message) });
    app.use(onError);
    const server = await new Promise<Server>((ok) => {
      const s = app.listen(0, '127.0.0.1', () => ok(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  const call = async (url: string, token: string) => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status;

  /** The matrix for one verifier: each token accepted by its own API only. */
  async function expectIsolated(verify: (api: 'a' | 'b', token: string) => Promise<boolean>) {
    expect({
      aAtA: await verify('a', tokens.a),
      bAtB: await verify('b', tokens.b),
      aAtB: await verify('b', tokens.a),
      bAtA: await verify('a', tokens.b),
      defaultAtA: await verify('a', tokens.none),
      defaultAtB: await verify('b', tokens.none),
    }).toEqual({ aAtA: true, bAtB: true, aAtB: false, bAtA: false, defaultAtA: false, defaultAtB: false });
  }

  it('jose: jwtVerify with createRemoteJWKSet (issuer, audience, typ, alg)', async () => {
    const jwks = createRemoteJWKSet(new URL(jwksUri));
    await expectIsolated(async (api, token) => {
      try {
        const { payload, protectedHeader } = await jwtVerify(token, jwks, {
          issuer,
          audience: api === 'a' ? API_A : API_B,
          typ: 'at+jwt',
          algorithms: [api === 'a' ? 'RS256' : 'ES256'],
          requiredClaims: ['sub', 'client_id', 'jti'],
        });
        expect(protectedHeader.kid).toBeTruthy();
        return payload.client_id === 'worker';
      } catch {
        return false;
      }
    });
  });

  it('oauth4webapi: validateJwtAccessToken (RFC 9068 profile) from the discovery document', async () => {
    const discovery = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oidc', [oauth.allowInsecureRequests]: true });
    const as = await oauth.processDiscoveryResponse(new URL(issuer), discovery);
    await expectIsolated(async (api, token) => {
      try {
        const request = new Request('https://api.example/resource', { headers: { authorization: `Bearer ${token}` } });
        const claims = await oauth.validateJwtAccessToken(as, request, api === 'a' ? API_A : API_B, {
          [oauth.allowInsecureRequests]: true,
          signingAlgorithms: [api === 'a' ? 'RS256' : 'ES256'],
        });
        return claims.client_id === 'worker';
      } catch {
        return false;
      }
    });
  });

  it('express-oauth2-jwt-bearer: auth({ issuerBaseURL, audience, tokenSigningAlg })', async () => {
    const base = await expressApis((audience, alg) => oauth2JwtBearer({ issuerBaseURL: issuer, audience, tokenSigningAlg: alg }));
    await expectIsolated(async (api, token) => (await call(`${base}/${api}`, token)) === 200);
    expect(await call(`${base}/a`, tokens.b)).toBe(401);
  });

  it('express-jwt with jwks-rsa: expressjwt({ secret: expressJwtSecret({ jwksUri }), audience, issuer, algorithms })', async () => {
    const base = await expressApis((audience, alg) =>
      expressjwt({
        secret: jwksRsa.expressJwtSecret({ jwksUri, cache: true, rateLimit: true }) as never,
        audience,
        issuer,
        algorithms: [alg],
      }),
    );
    await expectIsolated(async (api, token) => (await call(`${base}/${api}`, token)) === 200);
    expect(await call(`${base}/b`, tokens.a)).toBe(401);
  });

  it('the issued-token audit rows name the resource (details.resources; the top-level audience is set on the event)', async () => {
    const deadline = Date.now() + 10_000;
    let rows: { resources: string[] | null }[] = [];
    // the writer flushes every 200 ms: poll until this test's three events are in
    while (Date.now() < deadline) {
      rows = await stack.store.db.query<{ resources: string[] | null }>(
        `select details->'resources' as resources from identity.audit_logs where action = 'token.issued.client_credentials' and client_id = 'worker' order by created_at`,
      );
      if (rows.length >= 3) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(rows.map((r) => r.resources)).toEqual([[API_A], [API_B], null]);
  });

  it("fastify-jwt-jwks (RS256 only): API A accepts its tokens and refuses B's and the default audience's", async () => {
    const base = `http://127.0.0.1:${(fastifyApp.server.address() as { port: number }).port}`;
    expect(await call(`${base}/a`, tokens.a)).toBe(200);
    expect(await call(`${base}/a`, tokens.b)).toBe(401);
    expect(await call(`${base}/a`, tokens.none)).toBe(401);
  });
});
