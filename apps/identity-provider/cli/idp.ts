import { randomBytes } from 'node:crypto';
import { redirectUriProblem } from '../lib/oidc/redirect-uris';
import { parseArgs } from 'node:util';
import {
  AuditWriter,
  findMigrationsDir,
  InvalidResourceServerError,
  DuplicateResourceServerError,
  migrate,
  openIdentityStore,
  type GrantType,
  type IdentityStore,
  type ResourceServer,
  type ResourceServerChanges,
  type SigningAlg,
} from '@idp/database-identity';
import { describeRotation, scheduleKeyRotation } from '../lib/oidc/key-rotation';
import { ConfigError, loadConfig, type Config } from '../lib/env';
import { mailTransport } from '../lib/container';
import { createLogger } from '../lib/log';
import { MailWorker } from '../lib/mail/queue';
import { markEmailVerified, sendEmailVerification, type AccountChangeDeps } from '../lib/recovery/account-recovery';
import { checkPasswordPolicy } from '../lib/security/password-policy';
import { rfc3339 } from '../lib/security/input';
import { sendToRunningServer, SOCKET_COMMANDS } from '../lib/admin/cli-socket';

/**
 * Administration from the shell: `npm run idp -- <command> [options]`.
 * Secrets it creates (passwords, client secrets) are printed once and stored only hashed.
 */
const HELP = `Usage: npm run idp -- <command> [options]

Commands:
  migrate                                  apply pending database migrations
  users:create --email E [--name N] [--admin] [--password P] [--verified]
                                           create a user; without --password a random one is printed once
                                           and must be changed at first login. A password given must pass
                                           the password policy. The address gets a verification link
                                           unless --verified (you vouch for it)
  users:list                               list users (no secrets)
  users:verify-email --email E             mark the user's address verified (an administrator vouches)
  users:resend-verification --email E      mail a new verification link to the user's address
  clients:create --name N [--redirect-uri U]... [--post-logout-redirect-uri U]...
                 [--public] [--grant authorization_code|refresh_token|client_credentials]...
                 [--scope S]... [--auth-method client_secret_basic|client_secret_post]
                 [--alg RS256|ES256] [--access-token-alg RS256|ES256] [--first-party] [--client-id ID] [--require-mfa]
                                           register a client; a confidential client's secret is printed once.
                                           --alg: ID tokens; --access-token-alg: access tokens without
                                           resource= (default ES256); --require-mfa: its users must pass a
                                           second factor
  clients:update --client-id ID --access-token-alg RS256|ES256|default
                                           change a client's access-token alg
  clients:require-mfa --client-id ID [--off]
                                           require (or no longer) a second factor of the client's users
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
  keys:list                                list signing keys: state, created, activates, retire after
  keys:rotate [--alg RS256|ES256] [--immediate]
                                           publish a successor now (both algorithms without --alg); it signs
                                           after the pre-publication window (JWKS max-age + margin) on every
                                           instance. --immediate: it signs at once (emergencies; prints what
                                           that breaks). The old key stays published until its tokens expire
  demo:traffic [--url U] [--rounds N]      development only: replay labelled demo token traffic (sign-ins,
                                           refreshes, failures, a code replay, a refresh-token reuse)
                                           through the HTTP endpoints of the running server at U
                                           (default: ISSUER_URL); creates its demo clients and users
  analytics:status                         token rollups: watermark, dirty hours, the sealer's heartbeat,
                                           audit partitions and retention
  analytics:seal                           seal every closed hour not sealed yet, now (after a bulk load)
  analytics:rebuild [--from 2026-11-01T00:00:00Z]
                                           recompute the rollups from the raw events (all, or from then on)

While the server runs on the embedded database, commands go to it over $DATA_DIR/run/admin.sock
(owner-only), audited as admin.* with admin_id "cli". These need the running server:
  clients:rotate-secret --client-id ID [--grace SECONDS]
                                           new secret, printed once; the old one works for SECONDS more
  clients:disable | clients:enable --client-id ID
  users:lock --user-id ID [--minutes M]    refuse sign-in (until unlocked, or for M minutes)
  users:unlock --user-id ID
`;

type Out = (line: string) => void;

const COMMANDS = new Set([
  'migrate',
  'users:create',
  'users:list',
  'users:verify-email',
  'users:resend-verification',
  'clients:create',
  'clients:update',
  'clients:require-mfa',
  'clients:list',
  'keys:list',
  'keys:rotate',
  'resources:create',
  'resources:update',
  'resources:delete',
  'resources:list',
  'demo:traffic',
  'analytics:status',
  'analytics:seal',
  'analytics:rebuild',
]);
/** Only through the running server's admin socket (lib/admin/cli-socket.ts). */
const SERVER_COMMANDS = new Set(['clients:rotate-secret', 'clients:disable', 'clients:enable', 'users:lock', 'users:unlock']);

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
    r.identifier,
    `"${r.name}"`,
    r.signingAlg,
    `ttl=${r.accessTokenTtlSeconds ?? 'default'}`,
    `scopes=${r.scopes.join(',') || '-'}`,
    `clients=${r.allowedClientIds.join(',') || '-'}`,
    ...(Object.keys(r.extraClaims).length ? [`claims=${JSON.stringify(r.extraClaims)}`] : []),
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
  if (!COMMANDS.has(command) && !SERVER_COMMANDS.has(command)) throw new UsageError(`unknown command: ${command}`);
  const { values } = parseArgs({
    // the server-only commands' options are the socket's to parse (lib/admin/cli-socket.ts)
    args: SERVER_COMMANDS.has(command) ? [] : rest,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      admin: { type: 'boolean', default: false },
      verified: { type: 'boolean', default: false },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean', default: false },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      'auth-method': { type: 'string' },
      alg: { type: 'string' },
      'first-party': { type: 'boolean', default: false },
      'client-id': { type: 'string' },
      url: { type: 'string' },
      rounds: { type: 'string' },
      from: { type: 'string' },
      immediate: { type: 'boolean', default: false },
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
      'require-mfa': { type: 'boolean', default: false },
      off: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (command === 'demo:traffic') {
    // before the configuration: production must not even try (and may lack the development secrets)
    if (process.env.NODE_ENV === 'production') throw new UsageError('demo:traffic is for development only and refuses to run with NODE_ENV=production');
    const config = typeof configOrLoader === 'function' ? configOrLoader() : configOrLoader;
    // the embedded database admits one process: while the server runs, it executes what its socket knows
    if (!config.database.url && SOCKET_COMMANDS.has(command)) {
      const answer = await sendToRunningServer(config.dataDir, argv);
      if (answer) {
        for (const line of answer.lines) out(line);
        return answer.code;
      }
    }
    if (SERVER_COMMANDS.has(command)) throw new UsageError(`${command} needs the running server (or DATABASE_URL is set: use the admin console)`);
    if (config.production) throw new UsageError('demo:traffic is for development only');
    const rounds = values.rounds === undefined ? 3 : Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError('--rounds must be an integer from 1 to 100');
    // the server, not the CLI, opens the database: with the embedded one only a single process may
    const { runDemoTraffic, DemoTrafficError } = await import('./demo-traffic');
    try {
      await runDemoTraffic({ url: (values.url ?? config.issuer).replace(/\/$/, ''), keyEncryptionSecret: config.keyEncryptionSecret, rounds, out });
    } catch (error) {
      if (error instanceof DemoTrafficError) {
        out(`demo:traffic: ${error.message}`);
        return 1;
      }
      throw error;
    }
    return 0;
  }
  // checked before the configuration is loaded or the database opened
  const from = values.from === undefined ? undefined : rfc3339.safeParse(values.from);
  if (from && !from.success) throw new UsageError(`--from ${from.error.issues[0].message}`);
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
    ...(supabaseRequested
      ? {
          supabase: {
            ...(values['supabase-role'] ? { role: values['supabase-role'] } : {}),
            ...(values['supabase-audience'] ? { audience: values['supabase-audience'] } : {}),
          },
        }
      : {}),
    ...(values['no-supabase'] ? { supabase: null } : {}),
  };
  const config = typeof configOrLoader === 'function' ? configOrLoader() : configOrLoader;
  // the embedded database admits one process: while the server runs, it executes what its socket knows
  if (!config.database.url && SOCKET_COMMANDS.has(command)) {
    const answer = await sendToRunningServer(config.dataDir, argv);
    if (answer) {
      for (const line of answer.lines) out(line);
      return answer.code;
    }
  }
  if (SERVER_COMMANDS.has(command)) throw new UsageError(`${command} needs the running server (or DATABASE_URL is set: use the admin console)`);

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
        if (!generated) {
          const policy = await checkPasswordPolicy(password, { minLength: config.passwordMinLength, email: values.email, name: values.name });
          if (!policy.ok) throw new UsageError(`--password refused: ${policy.message}`);
        }
        const user = await store.users.create({
          email: values.email,
          password,
          name: values.name,
          roles: values.admin ? ['admin'] : [],
          mustChangePassword: generated,
          emailVerified: values.verified,
        });
        out(`created user ${user.id} <${user.email}>${values.admin ? ' (admin)' : ''}${values.verified ? ' (address verified)' : ''}`);
        if (generated) out(`password (shown once, must be changed at first login): ${password}`);
        if (!values.verified)
          await withRecovery(store, config, async (deps) => {
            await sendEmailVerification(deps, user.id, { by: 'cli' });
            out(`verification link mailed to <${user.email}>`);
          });
        return 0;
      }
      case 'users:verify-email':
      case 'users:resend-verification': {
        if (!values.email) throw new UsageError('--email is required');
        const user = await store.users.findByEmailForLogin(values.email);
        if (!user) throw new UsageError(`no user with email ${values.email}`);
        await withRecovery(store, config, async (deps) => {
          if (command === 'users:verify-email') {
            out(
              (await markEmailVerified(deps, user.id, { by: 'cli' })) ? `address of ${user.id} marked verified` : `address of ${user.id} was verified already`,
            );
          } else {
            out(
              (await sendEmailVerification(deps, user.id, { by: 'cli' }))
                ? `verification link mailed to <${user.email}>`
                : `address of ${user.id} is verified already: nothing sent`,
            );
          }
        });
        return 0;
      }
      case 'users:list': {
        for (const u of await store.users.list()) {
          out(
            `${u.id}  ${u.email}  roles=${u.roles.join(',') || '-'}${u.mustChangePassword ? '  must-change-password' : ''}${u.lockedUntil && u.lockedUntil > new Date() ? '  LOCKED' : ''}`,
          );
        }
        return 0;
      }
      case 'clients:create': {
        if (!values.name) throw new UsageError('--name is required');
        const method = values.public ? 'none' : ((values['auth-method'] ?? 'client_secret_basic') as 'client_secret_basic' | 'client_secret_post');
        if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method))
          throw new UsageError('--auth-method must be client_secret_basic or client_secret_post');
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
        if (values['require-mfa']) await store.authenticators.setClientRequiresMfa(client.clientId, true);
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
      case 'clients:require-mfa': {
        const clientId = values['client-id'];
        if (!clientId || !(await store.clients.find(clientId))) throw new UsageError('--client-id must name a registered client');
        await store.authenticators.setClientRequiresMfa(clientId, !values.off);
        out(`${clientId}: second factor ${values.off ? 'no longer required' : 'required'}`);
        return 0;
      }
      case 'clients:list': {
        for (const c of await store.clients.list()) {
          out(
            `${c.clientId}  "${c.name}"  ${c.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential'}  grants=${c.grantTypes.join(',')}  redirect_uris=${c.redirectUris.join(' ') || '-'}${c.accessTokenSignedResponseAlg ? `  access_token_alg=${c.accessTokenSignedResponseAlg}` : ''}`,
          );
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
        const time = (d: Date | null) => d?.toISOString() ?? '-';
        for (const k of await store.keys.list()) {
          out(`${k.kid}  ${k.alg}  ${k.state.padEnd(8)}  created=${time(k.createdAt)}  activates=${time(k.activatesAt)}  retire_after=${time(k.retireAfter)}`);
        }
        return 0;
      }
      case 'keys:rotate': {
        if (values.alg !== undefined && !['RS256', 'ES256'].includes(values.alg)) throw new UsageError('--alg must be RS256 or ES256');
        const algs = (values.alg ? [values.alg] : ['RS256', 'ES256']) as SigningAlg[];
        // events go to the audit trail directly (no spool: the CLI has the database or fails)
        const audit = new AuditWriter(store.db);
        try {
          const deps = { keys: store.keys, audit, policy: config.signingKeys, jwksMaxAgeSeconds: config.signingKeys.jwksMaxAgeSeconds };
          for (const alg of algs) {
            const outcome = await scheduleKeyRotation(deps, { alg, immediate: values.immediate });
            const { activatesAt, replacedRetireAfter } = outcome;
            for (const line of describeRotation({
              ...outcome,
              activatesAt: activatesAt.toISOString(),
              replacedRetireAfter: replacedRetireAfter?.toISOString() ?? null,
            }))
              out(line);
          }
        } finally {
          await audit.close();
        }
        return 0;
      }
      case 'analytics:status': {
        const st = await store.analytics.status();
        const at = (value: string | null) => value ?? '-';
        out(`clock            ${st.clock}`);
        out(`watermark        ${st.watermark ? `${st.watermark} (every hour before it is sealed, but the dirty ones)` : '- (nothing sealed yet)'}`);
        out(`dirty hours      ${st.dirtyHours}${st.oldestDirtyHour ? ` (oldest ${st.oldestDirtyHour})` : ''}`);
        out(`dirty days       ${st.dirtyDays}`);
        out(
          `sealer           ${st.sealer.alive ? 'alive' : 'not running: the audit_logs trigger seals'}, last round ${at(st.sealer.seenAt)}, timeout ${st.sealer.timeoutSeconds}s`,
        );
        out(
          `retention        raw events ${st.settings.rawRetentionDays} days (rollups kept), ${st.settings.partitionsAhead} monthly partitions ahead, oldest raw event ${at(st.oldestRawEvent)}`,
        );
        out(`partitions       ${st.partitions.length}`);
        for (const p of st.partitions) out(`  ${p.name}  ${p.from ? `${p.from} .. ${p.to}` : 'default (rows outside every month)'}`);
        return 0;
      }
      case 'analytics:seal': {
        out(`sealed ${await store.analytics.sealPending()} hours`);
        return 0;
      }
      case 'analytics:rebuild': {
        const hours = await store.analytics.rebuild(from?.data);
        out(`rebuilt the rollups${from ? ` from ${from.data!.toISOString()}` : ''}: ${hours} hours sealed`);
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

/**
 * The recovery services from the shell: audit events go through a writer of their own (flushed before the
 * command returns), mail through the configured transport, delivered before the command returns.
 */
async function withRecovery(store: IdentityStore, config: Config, work: (deps: AccountChangeDeps) => Promise<void>): Promise<void> {
  const audit = new AuditWriter(store.db, { spoolDir: `${config.dataDir}/audit-spool` });
  const mail = new MailWorker({
    enqueueTo: store.mailQueue,
    queue: store.mailQueue,
    transport: mailTransport(config, createLogger(config.logLevel, { service: 'idp-cli' })),
    audit,
    maxAttempts: 1,
  });
  try {
    await work({
      settings: { issuer: config.issuer, passwordMinLength: config.passwordMinLength, recovery: config.recovery },
      store,
      audit,
      mail,
      now: () => new Date(),
    });
    await mail.idle();
    await mail.runOnce();
  } finally {
    mail.stop();
    await audit.close();
  }
}

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
