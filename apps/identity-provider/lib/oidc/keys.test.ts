import { generateKeyPairSync } from 'node:crypto';
import type { KeyQueries } from '@idp/database-identity';
import { describe, expect, it } from 'vitest';
import { cachedKeyRing } from './keys';

function jwkPair(kid: string) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid, alg: 'ES256' as const, state: 'active',
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
    privateJwk: pair.privateKey.export({ format: 'jwk' }),
  };
}

describe('cachedKeyRing', () => {
  it('keeps the KeyObject of a key that is still published across a reload (cached signatures stay usable)', async () => {
    const k1 = jwkPair('k1');
    let keys = [k1];
    let version = 'v1';
    let time = 0;
    const queries = {
      version: async () => version,
      loadActive: async () => keys.filter((k) => k.state === 'active'),
      listPublished: async () => keys,
    } as unknown as KeyQueries;
    const ring = cachedKeyRing(queries, { checkEveryMs: 1000, now: () => time });
    const before = await ring.verificationKey('k1', 'ES256');
    expect(before).not.toBeNull();

    keys = [{ ...k1, state: 'retiring' }, jwkPair('k2')];
    version = 'v2';
    time += 1000;
    expect(await ring.verificationKey('k1', 'ES256')).toBe(before);
    expect(await ring.verificationKey('k2', 'ES256')).not.toBeNull();

    keys = keys.slice(1);
    version = 'v3';
    time += 1000;
    expect(await ring.verificationKey('k1', 'ES256')).toBeNull();
  });
});
