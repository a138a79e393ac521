import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_ENCRYPTION_SECRET, SESSION_SECRET, startStack, type Stack } from './support/oidc';
import { APP_DIR, auditWritten } from './support/server';

/** `npm run idp -- demo:traffic` against a started server: what it replays lands in the audit trail. */

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const { DATABASE_URL: _d, ...inherited } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/idp.ts', ...args], {
      cwd: APP_DIR,
      env: { ...inherited, DATA_DIR: mkdtempSync(join(tmpdir(), 'idp-demo-cli-')), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('demo:traffic', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('refuses with NODE_ENV=production, before reading any configuration', async () => {
    const { code, output } = await runCli(['demo:traffic', '--url', stack.provider.url], { NODE_ENV: 'production' });
    expect(code).toBe(64);
    expect(output).toContain('development only');
  });

  it('the setup endpoint answers 404 without the token derived from the server secret', async () => {
    for (const authorization of [undefined, 'Bearer nope']) {
      const response = await fetch(`${stack.provider.url}/api/dev/demo-traffic`, { method: 'POST', headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(404);
    }
    expect(await stack.store.clients.find('demo-traffic-photos')).toBeNull();
  });

  it('replays sign-ins, tokens, failures, a code replay and a refresh-token reuse through the HTTP endpoints', async () => {
    const { code, output } = await runCli(['demo:traffic', '--url', stack.provider.url, '--rounds', '1'], {
      NODE_ENV: 'development',
      KEY_ENCRYPTION_SECRET,
      SESSION_SECRET,
      ISSUER_URL: stack.provider.url,
    });
    expect(code, output).toBe(0);
    expect(output).toContain('created demo fixtures');
    expect(output).toMatch(/code replay 1.*refresh token reuse 1/);

    // the audit writer flushes in batches: every request is answered, so wait until its queue is empty
    await auditWritten(stack.provider);
    const labelled = async (action: string) =>
      (await stack.store.auditLog.search({ action }, null, 50)).entries.filter((e) => e.userAgent?.startsWith('idp-demo-traffic/'));
    await expect.poll(async () => (await labelled('token.refresh_reused')).length, { timeout: 10_000 }).toBe(1);
    expect(await labelled('token.code_replayed')).toHaveLength(1);
    const [reuse] = await labelled('token.refresh_reused');
    expect(reuse.clientId).toBe('demo-traffic-photos');
    expect(reuse.requestId).toMatch(/^demo-traffic-/);
    for (const action of [
      'auth.login_succeeded',
      'auth.login_failed',
      'token.issued.authorization_code',
      'token.refreshed',
      'token.issued.client_credentials',
      'token.pkce_failed',
      'client.auth_failed',
    ]) {
      expect((await labelled(action)).length, action).toBeGreaterThan(0);
    }
    // the abuse detector noticed the reuse too
    await expect
      .poll(async () => (await stack.store.auditLog.search({ action: 'security.suspicious' }, null, 50)).entries.length, { timeout: 10_000 })
      .toBeGreaterThan(0);

    // a second run finds its fixtures and goes on
    const again = await runCli(['demo:traffic', '--url', stack.provider.url, '--rounds', '1'], {
      NODE_ENV: 'development',
      KEY_ENCRYPTION_SECRET,
      SESSION_SECRET,
      ISSUER_URL: stack.provider.url,
    });
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('demo clients and users exist');
  });
});
