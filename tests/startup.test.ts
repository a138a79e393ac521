import { describe, expect, it } from 'vitest';
import { runProviderExpectingExit, startProvider } from './support/server';

describe('starting the provider', () => {
  it('refuses to start in production with missing, short or placeholder secrets, naming each problem', async () => {
    const { code, output } = await runProviderExpectingExit({
      NODE_ENV: 'production',
      ISSUER_URL: 'https://id.example.com',
      SESSION_SECRET: 'short',
      KEY_ENCRYPTION_SECRET: 'example-example-example-example-example',
    });
    expect(code).toBe(78);
    expect(output).toContain('SESSION_SECRET is shorter than 32 bytes');
    expect(output).toContain('KEY_ENCRYPTION_SECRET looks like a placeholder');
    expect(output).not.toContain('listening');
  });

  it('refuses production with no secrets at all', async () => {
    const { code, output } = await runProviderExpectingExit({
      NODE_ENV: 'production',
      ISSUER_URL: 'https://id.example.com',
      SESSION_SECRET: '',
      KEY_ENCRYPTION_SECRET: '',
    });
    expect(code).toBe(78);
    expect(output).toContain('SESSION_SECRET is required');
    expect(output).toContain('KEY_ENCRYPTION_SECRET is required');
  });

  it('first start on the embedded database: prints a one-time admin password, serves home and health', async () => {
    const provider = await startProvider();
    try {
      expect(provider.output()).toMatch(/password: [A-Za-z0-9_-]{24}/);
      const health = await fetch(`${provider.url}/api/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', version: '0.1.0' });
      const home = await (await fetch(provider.url)).text();
      expect(home).toContain(provider.url);
      expect(home).toContain('embedded PGlite');
      const response = await fetch(provider.url);
      await response.arrayBuffer();
      const headers = response.headers;
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
    } finally {
      expect(await provider.stop()).toBe(0);
    }
    // second start on the same data: the admin exists, so no password is printed again
    const again = await startProvider({ DATA_DIR: provider.dataDir });
    try {
      expect(again.output()).not.toMatch(/password:/);
    } finally {
      await again.stop();
    }
  });
});
