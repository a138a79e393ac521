#!/usr/bin/env node
// The peer for the benchmark: panva's `oidc-provider` (v9), configured like our provider for the
// client_credentials comparison: ES256-signed JWT access tokens (or opaque with --format=opaque),
// default in-memory adapter, one confidential client using client_secret_basic; and a second resource
// server (resource=urn:bench:api-rs256, RFC 8707) whose JWT access tokens are RS256-signed.
//
// Usage: node bench/peer/oidc-provider-server.mjs [--port=0] [--format=jwt|opaque] [--host=127.0.0.1]
// (env PORT / PEER_FORMAT work too). When listening it prints ONE JSON line on stdout:
//   {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"format":"jwt","userinfoToken":"..."}
// `userinfoToken` is an opaque, openid-scoped access token minted in-process for the /me (userinfo)
// scenario, so the benchmark does not need to drive an interactive authorization_code flow.
// bench/run.mjs starts this under `taskset -c 0`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';
import { PEER_CLIENT, PEER_RESOURCE, PEER_RS256_RESOURCE } from './constants.mjs';

const USERINFO_CLIENT = Object.freeze({ id: 'bench-rp', secret: 'bench-rp-secret-0123456789abcdef0123' });
const ACCOUNT_ID = 'bench-user';
// the same TTL our provider uses by default (ACCESS_TOKEN_TTL_SECONDS=900)
const ACCESS_TOKEN_TTL = 900;

function arg(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.slice(2).find((a) => a.startsWith(prefix));
  return found ? found.slice(prefix.length) : fallback;
}

const format = arg('format', process.env.PEER_FORMAT ?? 'jwt');
if (format !== 'jwt' && format !== 'opaque') {
  process.stderr.write(`--format must be jwt or opaque, got ${format}\n`);
  process.exit(64);
}
const host = arg('host', process.env.HOST ?? '127.0.0.1');
const requestedPort = Number(arg('port', process.env.PORT ?? '0'));

function es256Jwk() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `bench-es256-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

function rs256Jwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `bench-rs256-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

// Bind first so the issuer carries the real port (port 0 = pick a free one).
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(requestedPort, host, resolve);
});
const { port } = server.address();
const issuer = `http://${host}:${port}`;

const provider = new Provider(issuer, {
  // adapter: undefined -> the built-in in-memory (LRU) adapter
  jwks: { keys: [es256Jwk(), rs256Jwk()] },
  clients: [
    {
      client_id: PEER_CLIENT.id,
      client_secret: PEER_CLIENT.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
    {
      // only used as the audience-less owner of the pre-minted userinfo token
      client_id: USERINFO_CLIENT.id,
      client_secret: USERINFO_CLIENT.secret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: ['https://rp.bench.invalid/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  clientDefaults: {
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'ES256',
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  scopes: ['openid', 'offline_access', 'api'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => PEER_RESOURCE,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        const rs256 = resourceIndicator === PEER_RS256_RESOURCE;
        if (!rs256 && resourceIndicator !== PEER_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'api',
          audience: resourceIndicator,
          accessTokenTTL: ACCESS_TOKEN_TTL,
          accessTokenFormat: format,
          ...(format === 'jwt' ? { jwt: { sign: { alg: rs256 ? 'RS256' : 'ES256' } } } : {}),
        };
      },
      useGrantedResource: () => true,
    },
  },
  async findAccount(_ctx, sub) {
    if (sub !== ACCOUNT_ID) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: 'bench@example.com', email_verified: true, name: 'Bench User' };
      },
    };
  },
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Session: 24 * 3600,
    Interaction: 600,
  },
});
provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error?.stack ?? error}\n`));

// Mint an audience-less, openid-scoped access token for the userinfo (/me) scenario. It is opaque
// (oidc-provider refuses JWT access tokens without an audience, and /me refuses tokens with one), kept in the
// in-memory adapter; its Grant is saved alongside. 2 entries in an LRU of 1000: the client_credentials load
// (opaque variant) can evict them, so run.mjs starts a fresh peer process per scenario.
async function mintUserinfoToken() {
  const client = await provider.Client.find(USERINFO_CLIENT.id);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: client.clientId });
  grant.addOIDCScope('openid email profile');
  const grantId = await grant.save();
  const token = new provider.AccessToken({ accountId: ACCOUNT_ID, client, grantId, scope: 'openid email profile', gty: 'authorization_code' });
  return token.save();
}

server.on('request', provider.callback());
server.keepAliveTimeout = 65_000;
const userinfoToken = await mintUserinfoToken();
process.stdout.write(`${JSON.stringify({ ready: true, issuer, port, format, userinfoToken })}\n`);

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
