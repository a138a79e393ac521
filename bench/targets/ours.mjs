// OUR provider (apps/identity-provider): the production build on local Postgres, pinned like the peer.
//
// Fixtures (clients, a user, a signed-in session, pre-generated codes and refresh tokens) are made before the
// load starts: clients and the user with the admin CLI on the same database, everything else over HTTP.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { unsealData } from 'iron-session';
import { OneTimeValuePool } from '../lib/one-time-value-pool.mjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, spawnPinned, waitForHttp } from '../lib/proc.mjs';
import { basic, expectJwt, form, json } from './checks.mjs';

export const ourOidcDir = (root) => join(root, 'apps', 'identity-provider', 'lib', 'oidc');
export const ourServerAvailable = (root) => existsSync(ourOidcDir(root));

export class NotImplementedError extends Error {}

/**
 * @typedef {object} OurFixtures  what provisionOurFixtures must return
 * @property {{ id: string, secret: string, scope?: string }} machineClient  confidential, client_credentials (also the introspection caller)
 * @property {{ id: string, secret: string, redirectUri: string }} rpClient  confidential, authorization_code + refresh_token
 * @property {import('../lib/one-time-value-pool.mjs').OneTimeValuePool} codes           values { code, verifier }: unused authorization codes for rpClient
 * @property {import('../lib/one-time-value-pool.mjs').OneTimeValuePool} refreshTokens   values: unused refresh tokens for rpClient (rotation puts the new one back)
 * @property {string} userinfoToken             an access token with scope openid (for GET /oidc/userinfo)
 * @property {string} introspectToken           an access token to introspect (active: true)
 */

/** The database the benchmark owns: dropped and re-created on every run. Never the shared `test` database. */
function benchDatabaseUrl(override) {
  const url = new URL(override ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/idp_bench');
  const name = url.pathname.slice(1);
  if (!/^(idp_)?bench\w*$/.test(name))
    throw new Error(`BENCH_DATABASE_URL must name a bench-only database (bench*/idp_bench*), got "${name}": it is dropped on every run`);
  return { url: url.href, name, host: url.hostname, port: url.port || '5432', user: decodeURIComponent(url.username || 'postgres') };
}

function recreateDatabase(db) {
  const common = ['-h', db.host, '-p', db.port, '-U', db.user];
  const drop = spawnSync('dropdb', [...common, '--if-exists', '--force', db.name], { encoding: 'utf8' });
  if (drop.status !== 0) throw new Error(`dropdb ${db.name} failed: ${drop.stderr}`);
  const create = spawnSync('createdb', [...common, db.name], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`createdb ${db.name} failed: ${create.stderr}`);
}

/** Starts the production build (server.ts, NODE_ENV=production) on a fresh Postgres database, pinned to `cpu`. */
async function spawnOurServer({ cpu, root, databaseUrl, env: extraEnv = {} }) {
  const appDir = join(root, 'apps', 'identity-provider');
  if (!existsSync(join(appDir, '.next', 'BUILD_ID')) || !existsSync(join(appDir, 'dist', 'server.mjs')))
    throw new Error(`no production build in ${root}: run \`npm run build\` there first`);
  const db = benchDatabaseUrl(databaseUrl);
  recreateDatabase(db);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const secrets = { SESSION_SECRET: randomBytes(48).toString('base64url'), KEY_ENCRYPTION_SECRET: randomBytes(48).toString('base64url') };
  const proc = spawnPinned({
    name: 'identity-provider',
    cpu,
    command: process.execPath,
    // what `npm start` runs; BENCH_OURS_NODE_ARGS adds node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
    args: [...(process.env.BENCH_OURS_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--enable-source-maps', 'dist/server.mjs'],
    cwd: appDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER_URL: issuer,
      DATABASE_URL: db.url,
      ...secrets,
      LOG_LEVEL: process.env.BENCH_OURS_LOG_LEVEL ?? 'warn',
      // long enough that pre-generated codes survive warmup + measurement
      AUTHORIZATION_CODE_TTL_SECONDS: '600',
      NEXT_TELEMETRY_DISABLED: '1',
      // the limiter stays in the path, with limits no benchmark reaches (one client, one IP, thousands of req/s)
      RATE_LIMIT_TOKEN_PER_CLIENT: '1000000000/60',
      RATE_LIMIT_TOKEN_PER_IP: '1000000000/60',
      ...extraEnv,
    },
  });
  await waitForHttp(`${issuer}/api/health`, { proc, timeoutMs: 120_000 });
  return { baseUrl: issuer, proc, db, secrets, appDir };
}

/** Runs the admin CLI against the bench database with the server's key, returning its output. */
function idp(srv, args) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/idp.ts', ...args], {
    cwd: srv.appDir,
    encoding: 'utf8',
    env: {
      ...process.env,
      DATABASE_URL: srv.db.url,
      KEY_ENCRYPTION_SECRET: srv.secrets.KEY_ENCRYPTION_SECRET,
      SESSION_SECRET: srv.secrets.SESSION_SECRET,
      NODE_ENV: '',
    },
  });
  if (r.status !== 0) throw new Error(`idp ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

function createClient(srv, args) {
  const out = idp(srv, ['clients:create', ...args]);
  return { id: /client_id: (\S+)/.exec(out)[1], secret: /client_secret[^:]*: (\S+)/.exec(out)?.[1] };
}

const cookieOf = (res) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('idp_session=') && c.length > 'idp_session='.length);

/** Signs the bench user in through the real forms and returns the session cookie. */
async function signIn(srv, user) {
  const start = await fetch(`${srv.baseUrl}/interaction/start?return_to=/`, { redirect: 'manual' });
  const cookie = cookieOf(start);
  const { csrf } = await unsealData(decodeURIComponent(cookie.slice('idp_session='.length)), { password: srv.secrets.SESSION_SECRET });
  const login = await fetch(`${srv.baseUrl}/interaction/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: user.email, password: user.password, csrf, return_to: '/' }),
  });
  if (login.status !== 303 || login.headers.get('location') !== '/') throw new Error(`bench sign-in failed: ${login.status}`);
  return cookieOf(login);
}

async function newCode(srv, cookie, rp) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: rp.id,
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'bench',
  });
  const res = await fetch(`${srv.baseUrl}/oidc/authorize?${query}`, { redirect: 'manual', headers: { cookie } });
  const code = new URL(res.headers.get('location') ?? '', srv.baseUrl).searchParams.get('code');
  if (!code) throw new Error(`authorize gave no code: ${res.status} ${res.headers.get('location')}`);
  return { code, verifier };
}

async function exchange(srv, rp, { code, verifier }) {
  const res = await fetch(`${srv.baseUrl}/oidc/token`, {
    method: 'POST',
    headers: { authorization: basic(rp.id, rp.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${await res.text()}`);
  return res.json();
}

async function inParallel(count, width, make) {
  const out = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        next += 1;
        out.push(await make());
      }
    }),
  );
  return out;
}

/**
 * Creates what the scenarios need, outside the measurement: a machine client, a first-party RP client and a
 * user (admin CLI), a session cookie, enough authorization codes for the exchange scenario, a seed of
 * refresh tokens (rotation refills the pool), and access tokens for userinfo and introspection.
 * @returns {Promise<OurFixtures>}
 */
async function provisionOurFixtures(srv, opts) {
  const machineClient = { ...createClient(srv, ['--name', 'bench-machine', '--grant', 'client_credentials', '--scope', 'api']), scope: 'api' };
  // the RS256 API of the resource= scenario (RFC 8707); its scope is its own (the default-audience scenario keeps `api`)
  // (a baseline checkout from before resource servers has no such command: its rs256-resource scenario then fails its pre-flight)
  try {
    idp(srv, [
      'resources:create',
      '--identifier',
      BENCH_RS256_RESOURCE,
      '--name',
      'bench RS256 API',
      '--scope',
      'bench.read',
      `--allow-client=${machineClient.id}`,
    ]);
  } catch (error) {
    process.stderr.write(`no resource server for the rs256-resource scenario: ${error.message.split('\n')[0]}\n`);
  }
  const rpClient = {
    ...createClient(srv, [
      '--name',
      'bench-rp',
      '--redirect-uri',
      'http://127.0.0.1:9/cb',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--first-party',
    ]),
    redirectUri: 'http://127.0.0.1:9/cb',
  };
  const user = { email: 'bench.user@example.org', password: 'bench-user-password-123' };
  idp(srv, ['users:create', '--email', user.email, '--password', user.password, '--name', 'Bench User']);
  const cookie = await signIn(srv, user);

  const wantsCodes = !opts.scenarios || opts.scenarios.some((s) => s.startsWith('authorization_code'));
  const codeCount = wantsCodes
    ? OneTimeValuePool.sizeFor({
        expectedRps: Number(process.env.BENCH_CODE_RPS ?? 2500),
        duration: opts.duration,
        warmup: opts.warmup,
        connections: opts.connections,
      })
    : 0;
  const seeds = opts.connections * 3 + 1;
  const all = await inParallel(codeCount + seeds, 16, () => newCode(srv, cookie, rpClient));
  const codes = new OneTimeValuePool('codes', all.slice(0, codeCount));
  const seedCodes = all.slice(codeCount);
  let taken = 0;
  const seedTokens = await inParallel(seeds, 16, () => exchange(srv, rpClient, seedCodes[taken++]));
  const last = seedTokens.pop();
  return {
    machineClient,
    rpClient,
    codes,
    refreshTokens: new OneTimeValuePool(
      'refresh tokens',
      seedTokens.map((t) => t.refresh_token),
    ),
    userinfoToken: last.access_token,
    introspectToken: (
      await (
        await fetch(`${srv.baseUrl}/oidc/token`, {
          method: 'POST',
          headers: { authorization: basic(machineClient.id, machineClient.secret), 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        })
      ).json()
    ).access_token,
  };
}

/** Starts our provider and provisions its fixtures. */
export async function startOurServer(opts) {
  const srv = await spawnOurServer(opts);
  try {
    const fixtures = await provisionOurFixtures(srv, opts);
    return { ...srv, fixtures, stop: () => srv.proc.stop(15_000) };
  } catch (error) {
    await srv.proc.stop(15_000);
    throw error;
  }
}

const tokenHeaders = (client) => ({ authorization: basic(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' });

export const BENCH_RS256_RESOURCE = 'urn:bench:api-rs256';

/** Our scenarios (paths under /oidc). Each `build(srv)` gets the object startOurServer returned. */
export const ourGroups = [
  {
    id: 'ours',
    server: 'ours',
    available: ourServerAvailable,
    start: startOurServer,
    scenarios: [
      {
        id: 'client_credentials',
        variant: 'jwt',
        label: 'client_credentials (ES256 JWT)',
        build: ({ fixtures: f }) => ({
          load: {
            method: 'POST',
            path: '/oidc/token',
            headers: tokenHeaders(f.machineClient),
            body: form({ grant_type: 'client_credentials', ...(f.machineClient.scope ? { scope: f.machineClient.scope } : {}) }),
          },
          check: (res) => expectJwt(json(res).access_token, 'ES256'),
        }),
      },
      {
        id: 'client_credentials',
        variant: 'rs256-resource',
        label: 'client_credentials (RS256 JWT, resource=)',
        build: ({ fixtures: f }) => ({
          load: {
            method: 'POST',
            path: '/oidc/token',
            headers: tokenHeaders(f.machineClient),
            body: form({ grant_type: 'client_credentials', resource: BENCH_RS256_RESOURCE }),
          },
          check: (res) => {
            const { payload } = expectJwt(json(res).access_token, 'RS256');
            if (payload.aud !== BENCH_RS256_RESOURCE) throw new Error(`expected aud ${BENCH_RS256_RESOURCE}, got ${JSON.stringify(payload.aud)}`);
          },
        }),
      },
      {
        id: 'authorization_code',
        variant: 'pkce',
        label: 'authorization_code exchange (PKCE)',
        build: ({ fixtures: f }) => ({
          load: {
            pools: [f.codes],
            requests: [
              {
                method: 'POST',
                path: '/oidc/token',
                headers: tokenHeaders(f.rpClient),
                setupRequest: f.codes.setupRequest((req, v) => ({
                  ...req,
                  body: form({ grant_type: 'authorization_code', code: v.code ?? v, redirect_uri: f.rpClient.redirectUri, code_verifier: v.verifier ?? '' }),
                })),
              },
            ],
          },
        }),
      },
      {
        id: 'refresh',
        variant: 'rotating',
        label: 'refresh_token (rotation)',
        build: ({ fixtures: f }) => ({
          load: {
            pools: [f.refreshTokens],
            requests: [
              {
                method: 'POST',
                path: '/oidc/token',
                headers: tokenHeaders(f.rpClient),
                setupRequest: f.refreshTokens.setupRequest((req, rt) => ({ ...req, body: form({ grant_type: 'refresh_token', refresh_token: rt }) })),
                // the rotated refresh token goes back into the pool, so the run can last any DURATION
                onResponse: (status, body) => {
                  if (status === 200) f.refreshTokens.put(JSON.parse(body).refresh_token);
                },
              },
            ],
          },
        }),
      },
      {
        id: 'userinfo',
        variant: 'jwt-at',
        label: 'userinfo (GET /oidc/userinfo)',
        build: ({ fixtures: f }) => ({
          load: { method: 'GET', path: '/oidc/userinfo', headers: { authorization: `Bearer ${f.userinfoToken}` } },
          check: (res) => {
            if (!json(res).sub) throw new Error(`unexpected userinfo ${res.text}`);
          },
        }),
      },
      {
        id: 'introspection',
        variant: '',
        label: 'introspection (POST /oidc/introspect)',
        build: ({ fixtures: f }) => ({
          load: { method: 'POST', path: '/oidc/introspect', headers: tokenHeaders(f.machineClient), body: form({ token: f.introspectToken }) },
          check: (res) => {
            if (json(res).active !== true) throw new Error(`expected active: true, got ${res.text}`);
          },
        }),
      },
      {
        id: 'jwks',
        variant: '',
        label: 'JWKS (GET /oidc/jwks)',
        build: () => ({
          load: { method: 'GET', path: '/oidc/jwks' },
          check: (res) => {
            if (!json(res).keys?.length) throw new Error(`unexpected JWKS ${res.text}`);
          },
        }),
      },
    ],
  },
];

/** The same server with the audit writer off (AUDIT_WRITER=off): the audit cost on the token endpoint. */
export const ourAuditOffGroup = {
  id: 'ours-audit-off',
  server: 'ours-audit-off',
  available: ourServerAvailable,
  start: (opts) => startOurServer({ ...opts, env: { AUDIT_WRITER: 'off' } }),
  scenarios: ourGroups[0].scenarios
    .filter((s) => s.id === 'client_credentials' && s.variant === 'jwt')
    .map((s) => ({ ...s, label: `${s.label}, audit writer OFF` })),
};

/**
 * BENCH_BASELINE_ROOT: our server built from another checkout (e.g. the parent commit in a git worktree), on
 * a database of its own, standing in for the peer in the interleaved mode: "did this change cost throughput?"
 * measured side by side in one run. Its fixtures are made with that checkout's own CLI.
 */
export function baselineGroup(baselineRoot) {
  const own = new URL(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/idp_bench');
  own.pathname = `${own.pathname}_baseline`;
  return {
    id: 'baseline',
    server: 'baseline',
    available: () => ourServerAvailable(baselineRoot),
    start: (opts) => startOurServer({ ...opts, root: baselineRoot, databaseUrl: own.href }),
    scenarios: ourGroups[0].scenarios,
  };
}
