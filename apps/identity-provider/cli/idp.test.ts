import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openIdentityStore } from '@idp/database-identity';
import { loadConfig } from '../lib/env';
import { runCli, UsageError } from './idp';

const scratch = mkdtempSync(join(tmpdir(), 'idp-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('CLI help and typos touch nothing (issue #12 item 16)', () => {
  it('help, --help, no command and an unknown command never load the configuration', async () => {
    const lines: string[] = [];
    let loads = 0;
    const loader = () => {
      loads++;
      throw new Error('the configuration must not be loaded');
    };
    expect(await runCli(['help'], loader, (l) => lines.push(l))).toBe(0);
    expect(await runCli(['--help'], loader, (l) => lines.push(l))).toBe(0);
    expect(await runCli([], loader, (l) => lines.push(l))).toBe(64);
    await expect(runCli(['users:lsit'], loader, (l) => lines.push(l))).rejects.toThrow(UsageError);
    expect(loads).toBe(0);
    expect(lines.join('\n')).toContain('Usage: npm run idp');
  });

  it('`idp help` and `idp nonsense` as processes write no secrets and open no database in DATA_DIR', () => {
    const dataDir = join(scratch, 'data');
    const { KEY_ENCRYPTION_SECRET: _k, SESSION_SECRET: _s, DATABASE_URL: _d, ...env } = process.env;
    for (const [args, status] of [
      [['help'], 0],
      [['nonsense'], 64],
    ] as const) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/idp.ts', ...args], {
        cwd: join(import.meta.dirname, '..'),
        env: { ...env, DATA_DIR: dataDir, NODE_ENV: 'development' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(status);
      expect(run.stdout + run.stderr).toContain('Usage: npm run idp');
      expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    }
  });
});

describe('analytics commands (embedded database)', () => {
  const config = () => loadConfig({ NODE_ENV: 'development', DATA_DIR: join(scratch, 'analytics'), LOG_LEVEL: 'silent' });
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    expect(await runCli(argv, config, (l) => lines.push(l))).toBe(0);
    return lines.join('\n');
  };

  it('status, seal and rebuild on the rollups of the data directory', async () => {
    const fresh = await run('analytics:status');
    expect(fresh).toMatch(/^watermark +- \(nothing sealed yet\)$/m);
    expect(fresh).toMatch(/^dirty hours +0$/m);
    expect(fresh).toMatch(/^sealer +not running: the audit_logs trigger seals, last round -, timeout 300s$/m);
    expect(fresh).toMatch(/^retention +raw events 400 days/m);
    expect(fresh).toMatch(/^ {2}audit_logs_default +default/m);

    // events three hours ago, written straight into the table
    const c = config();
    const store = await openIdentityStore({ dataDir: `${c.dataDir}/pglite`, keyEncryptionSecret: c.keyEncryptionSecret });
    await store.db.query(
      `insert into identity.audit_logs (created_at, action, client_id, grant_type, details)
       select now() - interval '3 hours' + g * interval '1 second', 'token.issued.client_credentials', 'svc', 'client_credentials', '{}'::jsonb from generate_series(1, 5) g`,
    );
    await store.close();

    expect(await run('analytics:seal')).toMatch(/^sealed \d+ hours$/);
    const sealed = await run('analytics:status');
    expect(sealed).toMatch(/^watermark +\d{4}-\d{2}-\d{2}T/m);
    expect(sealed).toMatch(/^dirty hours +0$/m);
    expect(await run('analytics:rebuild', '--from', '2026-01-01T00:00:00Z')).toMatch(/^rebuilt the rollups from 2026-01-01T00:00:00.000Z: \d+ hours sealed$/);
    expect(await run('analytics:rebuild')).toMatch(/^rebuilt the rollups: \d+ hours sealed$/);
  }, 120_000);

  it('a bad --from is a usage error before the database is opened', async () => {
    let loads = 0;
    await expect(
      runCli(
        ['analytics:rebuild', '--from', 'yesterday'],
        () => (loads++, config()),
        () => {},
      ),
    ).rejects.toThrow(/--from must be an RFC 3339 date-time/);
    expect(loads).toBe(0);
  });
});

describe('resources:* and clients:update (issue #14)', () => {
  it('create, list, update, delete a resource server; refusals are usage errors', async () => {
    const config = loadConfig({
      DATA_DIR: join(scratch, 'resources'),
      DEMO_CLIENT: 'false',
      LOG_LEVEL: 'silent',
      SESSION_SECRET: 's'.repeat(48),
      KEY_ENCRYPTION_SECRET: 'k'.repeat(48),
    });
    const run = async (...args: string[]) => {
      const lines: string[] = [];
      expect(await runCli(args, config, (l) => lines.push(l))).toBe(0);
      return lines.join('\n');
    };
    const client = /client_id: (\S+)/.exec(await run('clients:create', '--name', 'svc', '--grant', 'client_credentials', '--access-token-alg', 'RS256'))![1];
    expect(await run('clients:list')).toContain(`${client}  "svc"  confidential  grants=client_credentials  redirect_uris=-  access_token_alg=RS256`);
    expect(await run('clients:update', '--client-id', client, '--access-token-alg', 'default')).toContain('provider default');
    expect(
      await run(
        'resources:create',
        '--identifier',
        'https://api.example/',
        '--name',
        'API',
        '--scope',
        'read',
        `--allow-client=${client}`,
        '--claim',
        'tenant="acme"',
        '--claim',
        'tier=2',
      ),
    ).toContain(`https://api.example/  "API"  RS256  ttl=default  scopes=read  clients=${client}  claims={"tier":2,"tenant":"acme"}`); // jsonb key order
    expect(
      await run(
        'resources:update',
        '--identifier',
        'https://api.example/',
        '--alg',
        'ES256',
        '--ttl',
        '300',
        '--supabase',
        '--supabase-audience',
        'https://api.example/',
      ),
    ).toContain('ES256  ttl=300  scopes=read');
    expect(await run('resources:list')).toContain('supabase(role=authenticated,aud=https://api.example/)');
    expect(await run('resources:update', '--identifier', 'https://api.example/', '--no-supabase', '--default-ttl')).not.toContain('supabase(');
    await expect(runCli(['resources:create', '--identifier', 'https://api.example/#x', '--name', 'bad'], config, () => {})).rejects.toThrow(/fragment/);
    await expect(runCli(['resources:create', '--identifier', 'https://api.example/', '--name', 'again'], config, () => {})).rejects.toBeInstanceOf(UsageError);
    await expect(runCli(['resources:create', '--identifier', 'https://x.example/', '--name', 'x', '--alg', 'HS256'], config, () => {})).rejects.toThrow(
      /RS256 or ES256/,
    );
    expect(await run('resources:delete', '--identifier', 'https://api.example/')).toContain('deleted');
    await expect(runCli(['resources:delete', '--identifier', 'https://api.example/'], config, () => {})).rejects.toBeInstanceOf(UsageError);
  }, 180_000); // every command opens (and migrates) the embedded database
});
