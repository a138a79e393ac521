import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Container } from '../container';
import { decodeCursor, type Cursor } from '../http/cursor';
import { describeRotation } from '../oidc/key-rotation';
import { clientCreateInput, userCreateInput } from './schemas';
import { AdminError, adminService } from './service';

/**
 * The admin CLI while the server runs on the embedded database (which only one process may open): the
 * server listens on a Unix socket, `$DATA_DIR/run/admin.sock`, in a directory of mode 0700, the socket itself
 * 0600, so only the account that runs the provider can connect. The CLI sends its argv as one JSON line and
 * gets back the lines to print and the exit code. Commands go through the admin service (validated the same
 * way as the API, audited as `admin.*` with admin_id `cli`).
 */
export const socketPath = (dataDir: string) => join(resolve(dataDir), 'run', 'admin.sock');

/** Longest sun_path on Linux is 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;
const MAX_REQUEST = 64 * 1024;

export const CLI_OPTIONS = {
  email: { type: 'string' },
  name: { type: 'string' },
  password: { type: 'string' },
  admin: { type: 'boolean', default: false },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  public: { type: 'boolean', default: false },
  native: { type: 'boolean', default: false },
  grant: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  'auth-method': { type: 'string' },
  alg: { type: 'string' },
  'first-party': { type: 'boolean', default: false },
  'client-id': { type: 'string' },
  'user-id': { type: 'string' },
  grace: { type: 'string' },
  minutes: { type: 'string' },
  immediate: { type: 'boolean', default: false },
} as const;

/** The commands the running server executes for the CLI (the others need the database to themselves or none). */
export const SOCKET_COMMANDS: ReadonlySet<string> = new Set([
  'migrate',
  'users:create',
  'users:list',
  'users:lock',
  'users:unlock',
  'clients:create',
  'clients:list',
  'clients:rotate-secret',
  'clients:disable',
  'clients:enable',
  'keys:list',
  'keys:rotate',
]);

class SocketUsage extends Error {}

/** Runs one CLI command inside the server. Returns the lines to print and the exit code (64: usage). */
export async function runSocketCommand(argv: string[], container: Container): Promise<{ lines: string[]; code: number }> {
  const lines: string[] = [];
  const out = (line: string) => lines.push(line);
  const service = adminService(container, { id: 'cli', userAgent: `idp-cli (uid ${process.getuid?.() ?? '?'})` });
  try {
    const [command, ...rest] = argv;
    const { values } = parseArgs({ args: rest, options: CLI_OPTIONS, strict: true });
    switch (command) {
      case 'migrate':
        out('database is up to date (the running server applied the migrations at start)');
        break;
      case 'users:create': {
        const input = userCreateInput.safeParse({ email: values.email, name: values.name, roles: values.admin ? ['admin'] : [], password: values.password });
        if (!input.success) throw new SocketUsage(`${input.error.issues[0].path.join('.')}: ${input.error.issues[0].message}`);
        const { user, password } = await service.createUser(input.data);
        out(`created user ${user.id} <${user.email}>${values.admin ? ' (admin)' : ''}`);
        if (password) out(`password (shown once, must be changed at first login): ${password}`);
        break;
      }
      case 'users:list':
        for await (const u of pages((cursor) => service.listUsers({ cursor, limit: 200 }))) {
          out(`${u.id}  ${u.email}  roles=${u.roles.join(',') || '-'}${u.must_change_password ? '  must-change-password' : ''}${u.locked ? '  LOCKED' : ''}`);
        }
        break;
      case 'users:lock':
      case 'users:unlock': {
        if (!values['user-id']) throw new SocketUsage('--user-id is required');
        if (command === 'users:unlock') {
          await service.unlockUser(values['user-id']);
          out(`unlocked ${values['user-id']}`);
        } else {
          const minutes = values.minutes ? Number(values.minutes) : undefined;
          if (minutes !== undefined && !(Number.isInteger(minutes) && minutes > 0)) throw new SocketUsage('--minutes must be a positive integer');
          const r = await service.lockUser(values['user-id'], minutes ? minutes * 60 : undefined);
          out(
            `locked ${values['user-id']} until ${r.user.locked_until}; ${r.sessions_ended} sessions ended, ${r.revoked_refresh_tokens} refresh tokens revoked`,
          );
        }
        break;
      }
      case 'clients:create': {
        const kind = values.public ? 'spa' : values.native ? 'native' : 'confidential';
        const input = clientCreateInput.safeParse({
          name: values.name,
          kind,
          client_id: values['client-id'],
          redirect_uris: values['redirect-uri'] ?? [],
          post_logout_redirect_uris: values['post-logout-redirect-uri'] ?? [],
          grant_types: values.grant,
          scopes: values.scope,
          token_endpoint_auth_method: kind === 'confidential' ? values['auth-method'] : undefined,
          id_token_signed_response_alg: values.alg,
          first_party: values['first-party'],
        });
        if (!input.success) throw new SocketUsage(`${input.error.issues[0].path.join('.') || 'input'}: ${input.error.issues[0].message}`);
        const { client, client_secret } = await service.createClient(input.data);
        out(`client_id: ${client.client_id}`);
        if (client_secret) out(`client_secret (shown once, stored hashed): ${client_secret}`);
        break;
      }
      case 'clients:list':
        for await (const c of pages((cursor) => service.listClients({ cursor, limit: 200 }))) {
          out(
            `${c.client_id}  "${c.name}"  ${c.kind === 'confidential' ? 'confidential' : 'public'}  grants=${c.grant_types.join(',')}  redirect_uris=${c.redirect_uris.join(' ') || '-'}${c.disabled ? '  DISABLED' : ''}`,
          );
        }
        break;
      case 'clients:rotate-secret': {
        if (!values['client-id']) throw new SocketUsage('--client-id is required');
        const grace = values.grace ? Number(values.grace) : 0;
        if (!(Number.isInteger(grace) && grace >= 0 && grace <= 30 * 86_400)) throw new SocketUsage('--grace must be seconds (0 to 2592000)');
        const r = await service.rotateClientSecret(values['client-id'], grace);
        out(`client_secret (shown once, stored hashed): ${r.client_secret}`);
        if (r.previous_secret_expires_at) out(`the previous secret works until ${r.previous_secret_expires_at}`);
        break;
      }
      case 'clients:disable':
      case 'clients:enable': {
        if (!values['client-id']) throw new SocketUsage('--client-id is required');
        const r = await service.setClientDisabled(values['client-id'], command === 'clients:disable');
        out(`${command === 'clients:disable' ? 'disabled' : 'enabled'} ${values['client-id']}; ${r.revoked_refresh_tokens} refresh tokens revoked`);
        break;
      }
      case 'keys:list':
        for (const k of (await service.listKeys()).items)
          out(
            `${k.kid}  ${k.alg}  ${k.state}  created=${k.created_at}${k.activates_at ? `  activates=${k.activates_at}` : ''}${k.retire_after ? `  retire_after=${k.retire_after}` : ''}`,
          );
        break;
      case 'keys:rotate': {
        if (values.alg !== undefined && values.alg !== 'RS256' && values.alg !== 'ES256') throw new SocketUsage('--alg must be RS256 or ES256');
        for (const alg of (values.alg ? [values.alg] : ['RS256', 'ES256']) as ('RS256' | 'ES256')[]) {
          const r = await service.rotateKey(alg, values.immediate);
          for (const line of describeRotation({ ...r, activatesAt: r.activates_at, replacesKid: r.replaces_kid, replacedRetireAfter: r.replaced_retire_after }))
            out(line);
        }
        break;
      }
      default:
        throw new SocketUsage(`unknown command: ${command}`);
    }
    return { lines, code: 0 };
  } catch (error) {
    if (error instanceof SocketUsage || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')))
      return { lines: [...lines, error.message], code: 64 };
    if (error instanceof AdminError) return { lines: [...lines, error.message], code: error.status === 404 ? 66 : 65 };
    container.log.error('admin socket command failed', { error });
    return { lines: [...lines, 'internal error (see the server log)'], code: 70 };
  }
}

async function* pages<T>(fetchPage: (cursor: Cursor | null) => Promise<{ items: T[]; next_cursor: string | null }>): AsyncGenerator<T> {
  let cursor: Cursor | null = null;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (!page.next_cursor) return;
    cursor = decodeCursor(page.next_cursor);
    if (!cursor) throw new Error('the service answered a cursor it cannot read');
  }
}

/** Starts the socket (embedded database only); returns its closer, or null when the path is too long. */
export async function startAdminSocket(container: Container): Promise<(() => Promise<void>) | null> {
  const path = socketPath(container.config.dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    container.log.warn('admin socket not started: DATA_DIR is too long a path for a Unix socket; stop the server to use the CLI', { path });
    return null;
  }
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // a socket left by a crashed server: nobody listens on it any more (this process owns the database)
  if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  const server: Server = createServer((socket) => {
    socket.setTimeout(60_000, () => socket.destroy());
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST) return void socket.destroy();
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      socket.removeAllListeners('data');
      let argv: unknown;
      try {
        argv = (JSON.parse(buffer.slice(0, newline)) as { argv?: unknown }).argv;
      } catch {
        argv = null;
      }
      const run =
        Array.isArray(argv) && argv.length <= 200 && argv.every((a) => typeof a === 'string' && a.length <= 4096)
          ? runSocketCommand(argv as string[], container)
          : Promise.resolve({ lines: ['malformed request'], code: 64 });
      void run.then((answer) => socket.end(JSON.stringify(answer) + '\n'));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(path, () => ok());
  });
  chmodSync(path, 0o600);
  container.log.info('admin socket listening', { path });
  return () => new Promise<void>((ok) => server.close(() => ok()));
}

/**
 * The CLI's side: sends argv to the running server. Null when no server listens (no socket, or a stale
 * one), so the CLI opens the database itself.
 */
export function sendToRunningServer(dataDir: string, argv: string[]): Promise<{ lines: string[]; code: number } | null> {
  const path = socketPath(dataDir);
  if (!existsSync(path)) return Promise.resolve(null);
  return new Promise((ok, fail) => {
    const socket = createConnection(path);
    let answer = '';
    let connected = false;
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write(JSON.stringify({ argv }) + '\n');
    });
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('end', () => {
      try {
        ok(JSON.parse(answer) as { lines: string[]; code: number });
      } catch {
        fail(new Error('the running server sent no answer'));
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (!connected && (error.code === 'ECONNREFUSED' || error.code === 'ENOENT')) ok(null);
      else fail(error);
    });
  });
}
