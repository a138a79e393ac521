import { randomBytes } from 'node:crypto';
import { redirectUriProblem } from '../lib/oidc/redirect-uris';
import { parseArgs } from 'node:util';
import { findMigrationsDir, migrate, openIdentityStore, type GrantType, type SigningAlg } from '@idp/database-identity';
import { ConfigError, loadConfig, type Config } from '../lib/env';
import { sendToRunningServer } from '../lib/admin/cli-socket';

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
                 [--alg RS256|ES256] [--first-party] [--client-id ID]
                                           register a client; a confidential client's secret is printed once
  clients:list                             list clients (no secrets)
  keys:list                                list signing keys and their state
  keys:rotate --alg RS256|ES256            make a new signing key active; the old one stays published
                                           until every token it signed has expired

While the server runs on the embedded database, commands go to it over $DATA_DIR/run/admin.sock
(owner-only), audited as admin.* with admin_id "cli". These need the running server:
  clients:rotate-secret --client-id ID [--grace SECONDS]
                                           new secret, printed once; the old one works for SECONDS more
  clients:disable | clients:enable --client-id ID
  users:lock --user-id ID [--minutes M]    refuse sign-in (until unlocked, or for M minutes)
  users:unlock --user-id ID
`;

type Out = (line: string) => void;

const COMMANDS = new Set(['migrate', 'users:create', 'users:list', 'clients:create', 'clients:list', 'keys:list', 'keys:rotate']);
/** Only through the running server's admin socket (lib/admin/cli-socket.ts). */
const SERVER_COMMANDS = new Set(['clients:rotate-secret', 'clients:disable', 'clients:enable', 'users:lock', 'users:unlock']);

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
  if (!COMMANDS.has(command) && !SERVER_COMMANDS.has(command)) throw new UsageError(`unknown command: ${command}`);
  // the embedded database admits one process: while the server runs, it executes the command
  const early = typeof configOrLoader === 'function' ? configOrLoader() : configOrLoader;
  if (!early.database.url) {
    const answer = await sendToRunningServer(early.dataDir, argv);
    if (answer) {
      for (const line of answer.lines) out(line);
      return answer.code;
    }
  }
  if (SERVER_COMMANDS.has(command)) throw new UsageError(`${command} needs the running server (or DATABASE_URL is set: use the admin console)`);
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
    },
    strict: true,
  });
  const config = early;

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
          firstParty: values['first-party'],
        });
        out(`client_id: ${client.clientId}`);
        if (clientSecret) out(`client_secret (shown once, stored hashed): ${clientSecret}`);
        return 0;
      }
      case 'clients:list': {
        for (const c of await store.clients.list()) {
          out(`${c.clientId}  "${c.name}"  ${c.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential'}  grants=${c.grantTypes.join(',')}  redirect_uris=${c.redirectUris.join(' ') || '-'}`);
        }
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
