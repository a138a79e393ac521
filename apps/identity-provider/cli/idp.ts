import { randomBytes } from 'node:crypto';
import { redirectUriProblem } from '../lib/oidc/redirect-uris';
import { parseArgs } from 'node:util';
import {
  findMigrationsDir, InvalidResourceServerError, DuplicateResourceServerError, migrate, openIdentityStore,
  type GrantType, type ResourceServer, type ResourceServerChanges, type SigningAlg,
} from '@idp/database-identity';
import { ConfigError, loadConfig, type Config } from '../lib/env';

/**
 * Administration from the shell: `npm run idp -- <command> [options]`.
 * Secrets it creates (passwords, client secrets) are printed once and stored only hashed.
 */
const HELP = `Usage: npm run idp -- <command> [options]

Commands:
  migrate                                  apply pending database migrations
  users:create --email E [--name N] [--admin] [--password P]
                                           create a user; without --password a random one is printed once
                                           and must be changed at first login
  users:list                               list users (no secrets)
  clients:create --name N [--redirect-uri U]... [--post-logout-redirect-uri U]...
                 [--public] [--grant authorization_code|refresh_token|client_credentials]...
                 [--scope S]... [--auth-method client_secret_basic|client_secret_post]
                 [--alg RS256|ES256] [--access-token-alg RS256|ES256] [--first-party] [--client-id ID]
                                           register a client; a confidential client's secret is printed once.
                                           --alg: ID tokens; --access-token-alg: access tokens without
                                           resource= (default ES256)
  clients:update --client-id ID --access-token-alg RS256|ES256|default
                                           change a client's access-token alg
  clients:list                             list clients (no secrets)
  resources:create --identifier URI --name N [--scope S]... [--alg RS256|ES256] [--ttl SECONDS]
                 [--allow-client ID]... [--claim NAME=JSON]... [--supabase]
                 [--supabase-role R] [--supabase-audience A]
                                           register a resource server (API) for RFC 8707 resource=URI:
                                           its tokens have aud=URI, its alg (RS256 by default) and lifetime
                                           (default ACCESS_TOKEN_TTL_SECONDS); only --allow-client clients may
                                           ask for it. --supabase: tokens carry role (authenticated) and
                                           aud authenticated for a Supabase project
  resources:update --identifier URI [the options of create; a list given replaces the old one]
                 [--no-supabase] [--default-ttl]
  resources:delete --identifier URI        tokens already issued stay valid until they expire
  resources:list                           list resource servers
  keys:list                                list signing keys and their state
  keys:rotate --alg RS256|ES256            make a new signing key active; the old one stays published
                                           until every token it signed has expired
`;

type Out = (line: string) => void;

const COMMANDS = new Set([
  'migrate', 'users:create', 'users:list', 'clients:create', 'clients:update', 'clients:list', 'keys:list', 'keys:rotate',
  'resources:create', 'resources:update', 'resources:delete', 'resources:list',
]);

const ALGS = ['RS256', 'ES256'];

/** `NAME=JSON` (a bare word is taken as a string): static claims of a resource server's tokens. */
function parseClaims(values: string[] | undefined): Record<string, unknown> | undefined {
  if (!values) return undefined;
  const claims: Record<string, unknown> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq < 1) throw new UsageError(`--claim must be NAME=VALUE: ${value.slice(0, 64)}`);
    const raw = value.slice(eq + 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = raw;
    }
    claims[value.slice(0, eq)] = parsed;
  }
  return claims;
}

function describeResource(r: ResourceServer): string {
  return [
    r.identifier, `"${r.name}"`, r.signingAlg, `ttl=${r.accessTokenTtlSeconds ?? 'default'}`, `scopes=${r.scopes.join(',') || '-'}`,
    `clients=${r.allowedClientIds.join(',') || '-'}`, ...(Object.keys(r.extraClaims).length ? [`claims=${JSON.stringify(r.extraClaims)}`] : []),
    ...(r.supabase ? [`supabase(role=${r.supabase.role},aud=${r.supabase.audience})`] : []),
  ].join('  ');
}

/**
 * `config` may be a loader: it is called only for a real command, so help and typos neither generate the
 * development secrets in the data directory nor open the database.
 */
export async function runCli(argv: string[], configOrLoader: Config | (() => Config), out: Out = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    out(HELP);
    return command ? 0 : 64;
  }
  if (!COMMANDS.has(command)) throw new UsageError(`unknown command: ${command}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean', default: false },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean', default: false },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      'auth-method': { type: 'string' },
      alg: { type: 'string' },
      'first-party': { type: 'boolean', default: false },
      'client-id': { type: 'string' },
      'access-token-alg': { type: 'string' },
      identifier: { type: 'string' },
      ttl: { type: 'string' },
      'default-ttl': { type: 'boolean', default: false },
      'allow-client': { type: 'string', multiple: true },
      claim: { type: 'string', multiple: true },
      supabase: { type: 'boolean', default: false },
      'no-supabase': { type: 'boolean', default: false },
      'supabase-role': { type: 'string' },
      'supabase-audience': { type: 'string' },
    },
    strict: true,
  });
  const accessTokenAlg = values['access-token-alg'];
  if (accessTokenAlg !== undefined && !ALGS.includes(accessTokenAlg) && !(command === 'clients:update' && accessTokenAlg === 'default')) {
    throw new UsageError('--access-token-alg must be RS256 or ES256');
  }
  if (command.startsWith('resources:') && command !== 'resources:list' && !values.identifier) throw new UsageError('--identifier is required');
  if (command.startsWith('resources:') && values.alg !== undefined && !ALGS.includes(values.alg)) throw new UsageError('--alg must be RS256 or ES256');
  let ttl: number | null | undefined = values['default-ttl'] ? null : undefined;
  if (values.ttl !== undefined) {
    if (!/^\d{1,6}$/.test(values.ttl)) throw new UsageError('--ttl must be a number of seconds');
    ttl = Number(values.ttl);
  }
  const supabaseRequested = values.supabase || values['supabase-role'] !== undefined || values['supabase-audience'] !== undefined;
  if (supabaseRequested && values['no-supabase']) throw new UsageError('--no-supabase cannot be combined with the Supabase options');
  const resourceChanges: ResourceServerChanges = {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.scope ? { scopes: values.scope } : {}),
    ...(values.alg ? { signingAlg: values.alg as SigningAlg } : {}),
    ...(ttl !== undefined ? { accessTokenTtlSeconds: ttl } : {}),
    ...(values['allow-client'] ? { allowedClientIds: values['allow-client'] } : {}),
    ...(values.claim ? { extraClaims: parseClaims(values.claim) } : {}),
    ...(supabaseRequested ? { supabase: { ...(values['supabase-role'] ? { role: values['supabase-role'] } : {}), ...(values['supabase-audience'] ? { audience: values['supabase-audience'] } : {}) } } : {}),
    ...(values['no-supabase'] ? { supabase: null } : {}),
  };
  const config = typeof configOrLoader === 'function' ? configOrLoader() : configOrLoader;

  const store = await openIdentityStore({
    databaseUrl: config.database.url,
    dataDir: config.database.url ? undefined : `${config.dataDir}/pglite`,
    maxConnections: 2,
    keyEncryptionSecret: config.keyEncryptionSecret,
    migrate: command !== 'migrate',
  });
  try {
    switch (command) {
      case 'migrate': {
        const result = await migrate(store.db, findMigrationsDir());
        out(result.applied.length ? `applied: ${result.applied.join(', ')}` : 'database is up to date');
        return 0;
      }
      case 'users:create': {
        if (!values.email) throw new UsageError('--email is required');
        const generated = !values.password;
        const password = values.password ?? randomBytes(18).toString('base64url');
        const user = await store.users.create({
          email: values.email,
          password,
          name: values.name,
          roles: values.admin ? ['admin'] : [],
          mustChangePassword: generated,
        });
        out(`created user ${user.id} <${user.email}>${values.admin ? ' (admin)' : ''}`);
        if (generated) out(`password (shown once, must be changed at first login): ${password}`);
        return 0;
      }
      case 'users:list': {
        for (const u of await store.users.list()) {
          out(`${u.id}  ${u.email}  roles=${u.roles.join(',') || '-'}${u.mustChangePassword ? '  must-change-password' : ''}${u.lockedUntil && u.lockedUntil > new Date() ? '  LOCKED' : ''}`);
        }
        return 0;
      }
      case 'clients:create': {
        if (!values.name) throw new UsageError('--name is required');
        const method = values.public ? 'none' : ((values['auth-method'] ?? 'client_secret_basic') as 'client_secret_basic' | 'client_secret_post');
        if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method)) throw new UsageError('--auth-method must be client_secret_basic or client_secret_post');
        const alg = (values.alg ?? 'RS256') as SigningAlg;
        if (!['RS256', 'ES256'].includes(alg)) throw new UsageError('--alg must be RS256 or ES256');
        for (const uri of [...(values['redirect-uri'] ?? []), ...(values['post-logout-redirect-uri'] ?? [])]) {
          const problem = redirectUriProblem(uri, { production: config.production });
          if (problem) throw new UsageError(`redirect URI refused: ${problem}`);
        }
        const { client, clientSecret } = await store.clients.create({
          clientId: values['client-id'],
          name: values.name,
          redirectUris: values['redirect-uri'],
          postLogoutRedirectUris: values['post-logout-redirect-uri'],
          grantTypes: values.grant as GrantType[] | undefined,
          scopes: values.scope,
          tokenEndpointAuthMethod: method,
          idTokenSignedResponseAlg: alg,
          accessTokenSignedResponseAlg: (accessTokenAlg as SigningAlg | undefined) ?? null,
          firstParty: values['first-party'],
        });
        out(`client_id: ${client.clientId}`);
        if (clientSecret) out(`client_secret (shown once, stored hashed): ${clientSecret}`);
        return 0;
      }
      case 'clients:update': {
        if (!values['client-id'] || !accessTokenAlg) throw new UsageError('--client-id and --access-token-alg are required');
        const alg = accessTokenAlg === 'default' ? null : (accessTokenAlg as SigningAlg);
        if (!(await store.clients.setAccessTokenAlg(values['client-id'], alg))) throw new UsageError(`no client ${values['client-id']}`);
        out(`client ${values['client-id']}: access tokens ${alg ?? 'with the provider default alg'}`);
        return 0;
      }
      case 'clients:list': {
        for (const c of await store.clients.list()) {
          out(`${c.clientId}  "${c.name}"  ${c.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential'}  grants=${c.grantTypes.join(',')}  redirect_uris=${c.redirectUris.join(' ') || '-'}${c.accessTokenSignedResponseAlg ? `  access_token_alg=${c.accessTokenSignedResponseAlg}` : ''}`);
        }
        return 0;
      }
      case 'resources:create': {
        if (!values.name) throw new UsageError('--name is required');
        const server = await resourceCall(() => store.resourceServers.create({ identifier: values.identifier!, name: values.name!, ...resourceChanges }));
        out(`created resource server ${describeResource(server)}`);
        return 0;
      }
      case 'resources:update': {
        const server = await resourceCall(() => store.resourceServers.update(values.identifier!, resourceChanges));
        if (!server) throw new UsageError(`no resource server ${values.identifier}`);
        out(`updated resource server ${describeResource(server)}`);
        return 0;
      }
      case 'resources:delete': {
        if (!(await store.resourceServers.delete(values.identifier!))) throw new UsageError(`no resource server ${values.identifier}`);
        out(`deleted resource server ${values.identifier}`);
        return 0;
      }
      case 'resources:list': {
        for (const r of await store.resourceServers.list()) out(describeResource(r));
        return 0;
      }
      case 'keys:list': {
        for (const k of await store.keys.list()) {
          out(`${k.kid}  ${k.alg}  ${k.state}${k.retireAfter ? `  retire_after=${k.retireAfter.toISOString()}` : ''}`);
        }
        return 0;
      }
      case 'keys:rotate': {
        const alg = values.alg as SigningAlg;
        if (!['RS256', 'ES256'].includes(alg)) throw new UsageError('--alg RS256|ES256 is required');
        // the old key must verify anything it signed: ID and access tokens live at most this long
        const keep = Math.max(config.ttl.accessToken, config.ttl.idToken);
        const key = await store.keys.rotate(alg, keep);
        out(`new active ${alg} key: ${key.kid}; the previous one stays published for ${keep}s`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } finally {
    await store.close();
  }
}

export class UsageError extends Error {}

/** The registry's refusals are the operator's input errors: shown as usage errors, not crashes. */
async function resourceCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof InvalidResourceServerError || error instanceof DuplicateResourceServerError) throw new UsageError(error.message);
    throw error;
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  (async () => {
    try {
      process.exitCode = await runCli(process.argv.slice(2), () => loadConfig());
    } catch (error) {
      if (error instanceof ConfigError || error instanceof UsageError) {
        process.stderr.write(`${error.message}\n${error instanceof UsageError ? '\n' + HELP : ''}`);
        process.exitCode = error instanceof UsageError ? 64 : 78;
      } else {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    }
  })();
}
