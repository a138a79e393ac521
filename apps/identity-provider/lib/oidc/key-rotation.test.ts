import { openIdentityStore, type IdentityStore, type RotationPolicy } from '@idp/database-identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from './audit';
import { runKeyRotation, scheduleKeyRotation, type KeyRotationDeps } from './key-rotation';
import { cachedKeyRing } from './keys';
import { embeddedTemplate } from '@idp/database-identity/testing';

const DAY = 86_400;
const policy: RotationPolicy = { publishAheadSeconds: 4500, keepPublishedSeconds: 3660, rotateEverySeconds: 90 * DAY };

/**
 * The maintenance job and the key ring on one fake clock: the job gets the clock's time as the database
 * time, the ring reads it through its injected clock. 90 days pass in a few calls.
 */
describe('automatic signing key rotation (fake clock)', () => {
  let store: IdentityStore;
  let events: AuditEvent[];
  let clock: number;
  let t0: number;
  let deps: KeyRotationDeps;
  let ring: ReturnType<typeof cachedKeyRing>;
  const at = (seconds: number) => new Date(t0 + seconds * 1000);
  const advanceTo = (seconds: number) => (clock = t0 + seconds * 1000);
  const jwksKids = async () =>
    JSON.parse((await ring.jwks()).body)
      .keys.map((k: { kid: string }) => k.kid)
      .sort();

  beforeAll(async () => {
    store = await openIdentityStore({ keyEncryptionSecret: 'k'.repeat(48), embeddedTemplate: embeddedTemplate() });
    await store.keys.ensureActiveKeys(['RS256', 'ES256']);
    t0 = Math.max(...(await store.keys.list()).map((k) => k.activatesAt.getTime())) + 1;
    clock = t0;
    events = [];
    // the fake clock is the database clock too: the ring measures its offset to the database at each load
    const keys = { ...store.keys, loadKeyRing: async () => ({ ...(await store.keys.loadKeyRing()), databaseNow: new Date(clock) }) };
    ring = cachedKeyRing(keys, { checkEveryMs: 3_600_000, now: () => clock });
    deps = { keys: store.keys, audit: { record: (e) => void events.push(e) }, policy, jwksMaxAgeSeconds: 900, ring };
  });
  afterAll(() => store?.close());

  it('publishes successors ahead, switches every algorithm at activates_at, retires the old keys, all audited', async () => {
    const oldEs = (await ring.signingKey('ES256')).kid;
    const oldRs = (await ring.signingKey('RS256')).kid;
    expect(await runKeyRotation(deps, at(89 * DAY))).toEqual({ keysPublished: 0, keysActivated: 0, keysRetired: 0 });

    advanceTo(90 * DAY - 4500);
    expect(await runKeyRotation(deps, at(90 * DAY - 4500))).toEqual({ keysPublished: 2, keysActivated: 0, keysRetired: 0 });
    expect(events.map((e) => [e.action, e.details?.alg]).sort()).toEqual([
      ['key.published', 'ES256'],
      ['key.published', 'RS256'],
    ]);
    for (const event of events) {
      expect(Object.keys(event.details ?? {}).sort()).toEqual(['alg', 'kid']);
      expect(event).toMatchObject({ resourceType: 'signing_key', resourceId: event.details?.kid });
    }
    const newEs = events.find((e) => e.details?.alg === 'ES256')!.details!.kid as string;
    // published at once (the job tells its own ring), not signing yet
    expect(await jwksKids()).toContain(newEs);
    expect((await ring.signingKey('ES256')).kid).toBe(oldEs);

    advanceTo(90 * DAY - 1);
    expect((await ring.signingKey('ES256')).kid).toBe(oldEs);
    // the switch needs neither the job nor a check of the database: the ring follows activates_at
    advanceTo(90 * DAY);
    expect((await ring.signingKey('ES256')).kid).toBe(newEs);
    expect((await ring.signingKey('RS256')).kid).not.toBe(oldRs);
    expect(
      ring
        .schedule()
        .filter((k) => k.state === 'retiring')
        .map((k) => k.kid)
        .sort(),
    ).toEqual([oldEs, oldRs].sort());

    events.length = 0;
    expect(await runKeyRotation(deps, at(90 * DAY + 60))).toMatchObject({ keysActivated: 2 });
    expect(events.map((e) => e.action)).toEqual(['key.activated', 'key.activated']);

    // tokens of the old keys have expired: the old keys leave the JWKS, then the job records it
    advanceTo(90 * DAY + 3660);
    expect(await jwksKids()).not.toContain(oldEs);
    expect(await ring.verificationKey(oldEs, 'ES256')).toBeNull();
    events.length = 0;
    expect(await runKeyRotation(deps, at(90 * DAY + 3660))).toMatchObject({ keysRetired: 2 });
    expect(events.map((e) => [e.action, e.details?.kid]).sort()).toEqual(
      [
        ['key.retired', oldEs],
        ['key.retired', oldRs],
      ].sort(),
    );
  });

  it('on request: scheduled after the pre-publication window; --immediate signs now and says what it breaks', async () => {
    // on the real clock, in a database of its own
    const own = await openIdentityStore({ keyEncryptionSecret: 'k'.repeat(48), embeddedTemplate: embeddedTemplate() });
    await own.keys.ensureActiveKeys(['ES256']);
    deps = { ...deps, keys: own.keys, ring: undefined };
    const scheduled = await scheduleKeyRotation(deps, { alg: 'ES256', actor: { userId: null, requestId: 'req-1' } });
    expect(scheduled).toMatchObject({ alg: 'ES256', created: true, immediate: false, breaks: null });
    expect(scheduled.activatesAt.getTime() - Date.now()).toBeGreaterThan(4400_000);
    expect(events.at(-1)).toMatchObject({
      action: 'key.published',
      requestId: 'req-1',
      details: { kid: scheduled.kid, alg: 'ES256', replaces_kid: scheduled.replacesKid },
    });

    const emergency = await scheduleKeyRotation(deps, { alg: 'ES256', immediate: true });
    // the already published successor is the one that takes over (it was published moments ago)
    expect(emergency).toMatchObject({ kid: scheduled.kid, created: false, immediate: true });
    expect(emergency.breaks).toMatch(/rejected by verifiers whose cached JWKS predates its publication/);
    expect(events.at(-1)).toMatchObject({ action: 'key.activated', details: { kid: scheduled.kid, immediate: true } });
    await own.close();
  });
});
