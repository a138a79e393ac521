import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
    for (const [args, status] of [[['help'], 0], [['nonsense'], 64]] as const) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/idp.ts', ...args], {
        cwd: join(import.meta.dirname, '..'), env: { ...env, DATA_DIR: dataDir, NODE_ENV: 'development' }, encoding: 'utf8', timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(status);
      expect(run.stdout + run.stderr).toContain('Usage: npm run idp');
      expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    }
  });
});
