import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { primeEmbeddedDataDir } from '../../packages/database-identity/src/testing';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const APP_DIR = join(REPO_ROOT, 'apps', 'identity-provider');
/** What `npm start` runs: the server compiled by `npm run build` (scripts/build-server.mjs). */
const SERVER_ARGS = ['--enable-source-maps', 'dist/server.mjs'];
/** Next's own production server on the same build, without server.ts: how serverless and PaaS hosts run the app. */
const NEXT_BIN = join(REPO_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');

/** `server`: the custom server (dist/server.mjs, what `npm start` runs); `next-start`: Next's own server (`next start`). */
export type ProviderHost = 'server' | 'next-start';

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => ok(port));
    });
  });
}

export interface RunningProvider {
  url: string;
  port: number;
  dataDir: string;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts the real provider process (the production build: the compiled server, dist/server.mjs) on a free port with its own
 * data directory, and waits until it answers. Needs `npm run build` first (npm test does it).
 */
export async function startProvider(env: Record<string, string> = {}, host: ProviderHost = 'server'): Promise<RunningProvider> {
  const port = await freePort();
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'idp-e2e-'));
  const url = `http://localhost:${port}`;
  // a first start on the embedded database begins from the run's migrated template (initdb is its slowest part)
  if (!env.DATABASE_URL) primeEmbeddedDataDir(join(dataDir, 'pglite'));
  const args = host === 'server' ? SERVER_ARGS : [NEXT_BIN, 'start', '--port', String(port), '--hostname', '127.0.0.1'];
  const child = spawn(process.execPath, args, {
    cwd: APP_DIR,
    env: {
      ...process.env,
      NODE_ENV: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER_URL: url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      NEXT_TELEMETRY_DISABLED: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`provider exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`provider did not become healthy in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    dataDir,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the compiled server to completion (for start-up refusals) and returns its exit code and output. */
export function runProviderExpectingExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, SERVER_ARGS, {
      cwd: APP_DIR,
      env: { ...process.env, DATA_DIR: mkdtempSync(join(tmpdir(), 'idp-e2e-')), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      ok({ code, output });
    });
  });
}

/**
 * Resolves once the provider's audit writer has nothing queued (a batch counts as queued until the database
 * acknowledges it), so the events of the requests answered so far are in the database: a poll of readiness
 * with a deadline, instead of sleeping past the flush interval.
 */
export async function auditWritten(provider: { url: string }, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await (await fetch(`${provider.url}/api/health/ready`)).json().catch(() => null);
    if (body?.checks?.audit_writer?.queue_depth === 0) return;
    if (Date.now() > deadline) throw new Error(`audit writer still has ${body?.checks?.audit_writer?.queue_depth} events queued`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls `probe` until it returns something other than undefined, or throws after the deadline. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
