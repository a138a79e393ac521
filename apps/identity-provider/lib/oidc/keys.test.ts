import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeyState } from './domain';
import { cachedKeyRing } from './keys';
import type { SigningKeySource } from './store';

function jwkPair(kid: string, times: { activatesAt?: number; retireAfter?: number | null; state?: KeyState } = {}) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const state = times.state ?? 'active';
  return {
    kid,
    alg: 'ES256' as const,
    state,
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
    privateJwk: state === 'retiring' ? null : pair.privateKey.export({ format: 'jwk' }),
    createdAt: new Date(0),
    activatesAt: new Date(times.activatesAt ?? 0),
    retiringSince: null,
    retireAfter: times.retireAfter == null ? null : new Date(times.retireAfter),
  };
}

/** Fake queries over a mutable key list; the database clock is `time + dbOffset`. */
function fakeQueries(clock: { time: number; dbOffset?: number }, initial: ReturnType<typeof jwkPair>[]) {
  const db = { keys: initial, version: 'v1', checks: 0 };
  const queries = {
    version: async () => {
      db.checks += 1;
      return db.version;
    },
    loadKeyRing: async () => ({ databaseNow: new Date(clock.time + (clock.dbOffset ?? 0)), keys: db.keys }),
  } as unknown as SigningKeySource;
  return { db, queries };
}

const jwksKids = async (ring: ReturnType<typeof cachedKeyRing>) => JSON.parse((await ring.jwks()).body).keys.map((k: { kid: string }) => k.kid);

describe('cachedKeyRing', () => {
  it('keeps the KeyObject of a key that is still published across a reload (cached signatures stay usable)', async () => {
    const clock = { time: 0 };
    const k1 = jwkPair('k1');
    const { db, queries } = fakeQueries(clock, [k1]);
    const ring = cachedKeyRing(queries, { checkEveryMs: 1000, now: () => clock.time });
    const before = await ring.verificationKey('k1', 'ES256');
    expect(before).not.toBeNull();

    db.keys = [{ ...k1, state: 'retiring', privateJwk: null }, jwkPair('k2')];
    db.version = 'v2';
    clock.time += 1000;
    expect(await ring.verificationKey('k1', 'ES256')).toBe(before);
    expect(await ring.verificationKey('k2', 'ES256')).not.toBeNull();

    db.keys = db.keys.slice(1);
    db.version = 'v3';
    clock.time += 1000;
    expect(await ring.verificationKey('k1', 'ES256')).toBeNull();
  });

  it('switches to the successor at its activation time on the injected clock, without waiting for a check', async () => {
    const clock = { time: 1_000 };
    const { db, queries } = fakeQueries(clock, [jwkPair('k2', { activatesAt: 10_000, state: 'next' }), jwkPair('k1', { activatesAt: 0, retireAfter: 20_000 })]);
    // one check per hour: every switch below happens between checks
    const ring = cachedKeyRing(queries, { checkEveryMs: 3_600_000, now: () => clock.time });
    expect((await ring.signingKey('ES256')).kid).toBe('k1');
    expect(await jwksKids(ring)).toEqual(['k2', 'k1']);
    expect(ring.schedule().map((k) => [k.kid, k.state])).toEqual([
      ['k2', 'next'],
      ['k1', 'active'],
    ]);
    const checks = db.checks;

    clock.time = 9_999;
    expect((await ring.signingKey('ES256')).kid).toBe('k1');
    clock.time = 10_000;
    expect((await ring.signingKey('ES256')).kid).toBe('k2');
    expect(ring.schedule().map((k) => [k.kid, k.state])).toEqual([
      ['k2', 'active'],
      ['k1', 'retiring'],
    ]);
    // the retiring key verifies what it signed until it is retired, then leaves the JWKS
    clock.time = 19_999;
    expect(await ring.verificationKey('k1', 'ES256')).not.toBeNull();
    const etag = (await ring.jwks()).etag;
    clock.time = 20_000;
    expect(await jwksKids(ring)).toEqual(['k2']);
    expect((await ring.jwks()).etag).not.toBe(etag);
    expect(db.checks).toBe(checks);
    expect(ring.health().signing).toBe(true);
  });

  it('decides activation by the database clock, not the local one', async () => {
    // this process's clock is 5 s behind the database's
    const clock = { time: 1_000, dbOffset: 5_000 };
    const { queries } = fakeQueries(clock, [jwkPair('k2', { activatesAt: 10_000, state: 'next' }), jwkPair('k1', { activatesAt: 0, retireAfter: 60_000 })]);
    const ring = cachedKeyRing(queries, { checkEveryMs: 3_600_000, now: () => clock.time });
    expect((await ring.signingKey('ES256')).kid).toBe('k1');
    clock.time = 5_000; // database time 10 000
    expect((await ring.signingKey('ES256')).kid).toBe('k2');
  });

  it('the hot path hands out one settled promise per algorithm while nothing changes', async () => {
    const clock = { time: 0 };
    const { queries } = fakeQueries(clock, [jwkPair('k1')]);
    const ring = cachedKeyRing(queries, { checkEveryMs: 60_000, now: () => clock.time });
    await ring.signingKey('ES256');
    const first = ring.signingKey('ES256');
    clock.time = 30_000;
    expect(ring.signingKey('ES256')).toBe(first);
  });
});
