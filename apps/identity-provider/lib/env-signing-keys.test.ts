import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './env';

const strong = 'Zq4v9-8hV2rP0sLkW3nB7yT1uXcE5mA6dGfJ2oQ';
const production = { NODE_ENV: 'production', ISSUER_URL: 'https://id.example.com', SESSION_SECRET: strong, KEY_ENCRYPTION_SECRET: strong + 'x' };
const load = (env: Record<string, string>) => loadConfig(env, mkdtempSync(join(tmpdir(), 'cfg-')));
const problemsOf = (env: Record<string, string>) => {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('signing key rotation settings', () => {
  it("defaults: 15-minute JWKS max-age, published 75 minutes ahead (beyond Supabase's 30-minute refresh), 90 days", () => {
    expect(load(production).signingKeys).toEqual({
      jwksMaxAgeSeconds: 900,
      publishAheadSeconds: 4500,
      keepPublishedSeconds: 3600 + 60,
      rotateEverySeconds: 90 * 86_400,
    });
  });

  it('refuses a pre-publication window under 30 minutes in production, and a period not longer than the window', () => {
    expect(problemsOf({ ...production, JWKS_MAX_AGE_SECONDS: '300', SIGNING_KEY_PUBLISH_MARGIN_SECONDS: '600' })).toEqual([
      expect.stringMatching(/at least 1800s in production.*got 900s/),
    ]);
    expect(problemsOf({ ...production, SIGNING_KEY_ROTATION_DAYS: '0.05' })).toEqual([expect.stringMatching(/SIGNING_KEY_ROTATION_DAYS must be longer/)]);
    // development (the tests' short windows) only needs the period to exceed the window
    expect(
      load({ SESSION_SECRET: strong, KEY_ENCRYPTION_SECRET: strong, JWKS_MAX_AGE_SECONDS: '5', SIGNING_KEY_PUBLISH_MARGIN_SECONDS: '65' }).signingKeys
        .publishAheadSeconds,
    ).toBe(70);
  });
});
