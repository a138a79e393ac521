import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './env';

const strong = 'Zq4v9-8hV2rP0sLkW3nB7yT1uXcE5mA6dGfJ2oQ';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env, mkdtempSync(join(tmpdir(), 'cfg-')));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('refuses production without secrets, naming each missing one', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER_URL: 'https://id.example.com' });
    expect(problems).toEqual([
      expect.stringContaining('SESSION_SECRET is required'),
      expect.stringContaining('KEY_ENCRYPTION_SECRET is required'),
    ]);
  });

  it('lists every problem at once: short secret, placeholder secret, http issuer', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      ISSUER_URL: 'http://id.internal',
      SESSION_SECRET: 'tooshort',
      KEY_ENCRYPTION_SECRET: 'please-change-me-please-change-me-please',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/SESSION_SECRET is shorter than 32 bytes/);
    expect(problems.join('\n')).toMatch(/KEY_ENCRYPTION_SECRET looks like a placeholder \(contains "change"\)/);
    expect(problems.join('\n')).toMatch(/ISSUER_URL must use https/);
  });

  it('accepts strong secrets and an https issuer in production', () => {
    const config = loadConfig(
      { NODE_ENV: 'production', ISSUER_URL: 'https://id.example.com/', SESSION_SECRET: strong, KEY_ENCRYPTION_SECRET: strong + 'x' },
      mkdtempSync(join(tmpdir(), 'cfg-')),
    );
    expect(config.issuer).toBe('https://id.example.com');
    expect(config.demoClient).toBe(false);
  });

  it('generates development secrets once, kept with mode 0600', () => {
    const root = mkdtempSync(join(tmpdir(), 'cfg-'));
    const first = loadConfig({}, root);
    const second = loadConfig({}, root);
    expect(first.sessionSecret).toHaveLength(64);
    expect(second.sessionSecret).toBe(first.sessionSecret);
    expect(second.keyEncryptionSecret).not.toBe(first.sessionSecret);
    expect(statSync(join(root, '.data', 'secrets.json')).mode & 0o777).toBe(0o600);
  });

  it('names a malformed variable', () => {
    expect(problemsOf({ PORT: 'eighty' })).toEqual([expect.stringMatching(/^PORT: /)]);
  });
});
