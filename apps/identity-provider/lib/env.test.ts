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
  it('intervals: the production defaults, each overridable, a bad one named', () => {
    const dir = () => mkdtempSync(join(tmpdir(), 'cfg-'));
    const defaults = loadConfig({}, dir());
    expect(defaults.intervals).toEqual({ keyRingMs: 5_000, clientRegistryMs: 2_000, revocationEpochMs: 500, rateLimitSyncMs: 1_000, maintenanceMs: 60_000 });
    expect(defaults.audit).toEqual({ flushIntervalMs: 200, batchSize: 500 });
    const short = loadConfig(
      {
        KEY_RING_CHECK_MS: '200',
        CLIENT_REGISTRY_CHECK_MS: '100',
        REVOCATION_EPOCH_POLL_MS: '50',
        RATE_LIMIT_SYNC_MS: '250',
        MAINTENANCE_INTERVAL_MS: '300',
        AUDIT_FLUSH_INTERVAL_MS: '20',
        AUDIT_BATCH_SIZE: '10',
      },
      dir(),
    );
    expect(short.intervals).toEqual({ keyRingMs: 200, clientRegistryMs: 100, revocationEpochMs: 50, rateLimitSyncMs: 250, maintenanceMs: 300 });
    expect(short.audit).toEqual({ flushIntervalMs: 20, batchSize: 10 });
    expect(problemsOf({ MAINTENANCE_INTERVAL_MS: '0' })).toEqual([expect.stringMatching(/^MAINTENANCE_INTERVAL_MS: /)]);
    expect(problemsOf({ KEY_RING_CHECK_MS: '5s' })).toEqual([expect.stringMatching(/^KEY_RING_CHECK_MS: /)]);
  });

  it('refuses production without secrets, naming each missing one', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER_URL: 'https://id.example.com' });
    expect(problems).toEqual([expect.stringContaining('SESSION_SECRET is required'), expect.stringContaining('KEY_ENCRYPTION_SECRET is required')]);
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

  it('a random secret that happens to spell a placeholder word is not refused', () => {
    // base64 of random bytes with "test" in it (chance ~1e-4 per secret): 40+ distinct characters
    const lucky = 'Q9vKx2TestR7mPz4NwLb8YcHd1JfGs3UaEo6iZk0VqXy5Wn_-tMrBlCjDhFgSp';
    expect(new Set(lucky).size).toBeGreaterThanOrEqual(32);
    expect(
      problemsOf({
        NODE_ENV: 'production',
        ISSUER_URL: 'https://id.example.com',
        SESSION_SECRET: lucky,
        KEY_ENCRYPTION_SECRET: lucky.split('').reverse().join(''),
      }),
    ).toEqual([]);
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
