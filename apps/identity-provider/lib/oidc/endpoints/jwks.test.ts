import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../../container';
import { installContainer } from '../../container';
import { loadConfig } from '../../env';
import { createLogger } from '../../log';
import { nextProviderHandler } from '../../http/next';
import { testProvider, TEST_ISSUER } from '../test-provider';
import { ifNoneMatchHits } from './jwks';

describe('If-None-Match (RFC 9110 13.1.2)', () => {
  it('matches *, lists and weak tags; nothing else', () => {
    const etag = '"abc"';
    expect(ifNoneMatchHits('"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('"x", W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('*', etag)).toBe(true);
    expect(ifNoneMatchHits('"abcd"', etag)).toBe(false);
    expect(ifNoneMatchHits('abc', etag)).toBe(false);
    expect(ifNoneMatchHits(null, etag)).toBe(false);
    expect(ifNoneMatchHits(`${'"x",'.repeat(2000)}"abc"`, etag)).toBe(false);
  });

  it('hostile headers: never throws, matches only when our tag or * is there', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 5000 }), (header) => {
        const hit = ifNoneMatchHits(header, '"abc"');
        if (hit) expect(header.trim() === '*' || header.includes('"abc"')).toBe(true);
      }),
    );
  });
});

describe('JWKS through the Next route handler (app/oidc/jwks/route.ts)', () => {
  let fixture: Awaited<ReturnType<typeof testProvider>>;
  beforeAll(async () => {
    fixture = await testProvider();
    const config = loadConfig({
      ISSUER_URL: TEST_ISSUER,
      SESSION_SECRET: 's'.repeat(48),
      KEY_ENCRYPTION_SECRET: 'k'.repeat(48),
      LOG_LEVEL: 'silent',
      JWKS_MAX_AGE_SECONDS: '321',
    });
    const provider = { ...fixture.provider, settings: { ...fixture.provider.settings, jwksMaxAgeSeconds: config.signingKeys.jwksMaxAgeSeconds } };
    installContainer(Promise.resolve({ provider, config, log: createLogger('silent', {}) } as unknown as Container));
  });
  afterAll(() => fixture?.close());

  it('answers with the configured max-age and an ETag, and 304 to a revalidation', async () => {
    const first = await nextProviderHandler(new Request(`${TEST_ISSUER}/oidc/jwks`));
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('public, max-age=321');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect((await first.json()).keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);

    const again = await nextProviderHandler(new Request(`${TEST_ISSUER}/oidc/jwks`, { headers: { 'if-none-match': `W/${etag}` } }));
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('public, max-age=321');
  });

  it('any If-None-Match gets a 200 or a 304, never an error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }).filter((v) => !/[\r\n\0]/.test(v)),
        async (header) => {
          let request: Request;
          try {
            request = new Request(`${TEST_ISSUER}/oidc/jwks`, { headers: { 'if-none-match': header } });
          } catch {
            return; // not a valid header value: no client can send it
          }
          expect([200, 304]).toContain((await nextProviderHandler(request)).status);
        },
      ),
      { numRuns: 200 },
    );
  });
});
