import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore, type RotationPolicy, type SigningKey } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';
const DAY = 86_400;
const policy: RotationPolicy = { publishAheadSeconds: 4500, keepPublishedSeconds: 3660, rotateEverySeconds: 90 * DAY };

const byAlg = (keys: SigningKey[], alg: string) => keys.filter((k) => k.alg === alg);
const states = (keys: SigningKey[]) => Object.fromEntries(keys.map((k) => [k.kid, k.state]));

/**
 * The lifecycle next -> active -> retiring -> retired, on a fake clock: every call gets the time it runs at
 * (`at`), which the SQL uses instead of now(). Two algorithms, each with its own lifecycle.
 */
describe.each(driversUnderTest())('signing key lifecycle on $name', (driver) => {
  let store: IdentityStore;
  let t0: Date;
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
    await store.keys.ensureActiveKeys(['RS256', 'ES256']);
    // a millisecond past the later key's activation (Postgres keeps microseconds)
    t0 = new Date(Math.max(...(await store.keys.list()).map((k) => k.activatesAt.getTime())) + 1);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('rotates on schedule: publishes ahead, activates at activates_at, retires after the publication window', async () => {
    const initial = await store.keys.list(at(0));
    expect(initial.map((k) => k.state)).toEqual(['active', 'active']);
    const [rs0] = byAlg(initial, 'RS256');
    const [es0] = byAlg(initial, 'ES256');

    // not yet within the pre-publication window of the 90-day rotation
    expect(await store.keys.runScheduledRotation(policy, at(90 * DAY - 4500 - 60))).toEqual({ ran: true, published: [], activated: [], retired: [] });
    // due: one successor per algorithm, activating when the rotation is due (4500 s from now)
    const round = await store.keys.runScheduledRotation(policy, at(90 * DAY - 4500));
    expect(round.published.map((k) => [k.alg, k.state]).sort()).toEqual([
      ['ES256', 'next'],
      ['RS256', 'next'],
    ]);
    const [rs1] = byAlg(round.published, 'RS256');
    const [es1] = byAlg(round.published, 'ES256');
    // activation: when the rotation is due, and never sooner than the pre-publication window from now
    expect(es1.activatesAt.getTime()).toBeCloseTo(es0.activatesAt.getTime() + 90 * DAY * 1000, -1);
    expect(rs1.activatesAt).toEqual(at(90 * DAY));
    expect(es1.createdAt).toEqual(at(90 * DAY - 4500));
    // a later round does not publish a second successor
    expect((await store.keys.runScheduledRotation(policy, at(90 * DAY - 4000))).published).toEqual([]);

    const scheduled = await store.keys.list(at(90 * DAY - 1));
    expect(states(scheduled)).toEqual({ [rs0.kid]: 'active', [es0.kid]: 'active', [rs1.kid]: 'next', [es1.kid]: 'next' });
    expect(scheduled.find((k) => k.kid === es0.kid)).toMatchObject({
      retiringSince: es1.activatesAt,
      retireAfter: new Date(es1.activatesAt.getTime() + 3660_000),
    });
    expect((await store.keys.listPublished(at(90 * DAY - 1))).map((k) => k.kid).sort()).toEqual([rs0.kid, es0.kid, rs1.kid, es1.kid].sort());

    // the switch follows the times, before any job records it
    expect(states(await store.keys.list(at(90 * DAY)))).toEqual({ [rs0.kid]: 'retiring', [es0.kid]: 'retiring', [rs1.kid]: 'active', [es1.kid]: 'active' });
    const switched = await store.keys.runScheduledRotation(policy, at(90 * DAY + 30));
    expect(switched.activated.map((k) => k.kid).sort()).toEqual([rs1.kid, es1.kid].sort());
    expect(switched.retired).toEqual([]);
    const rows = await store.db.query<{ kid: string; state: string }>(`select kid, state from identity.signing_keys order by kid`);
    expect(Object.fromEntries(rows.map((r) => [r.kid, r.state]))).toEqual({
      [rs0.kid]: 'retiring',
      [es0.kid]: 'retiring',
      [rs1.kid]: 'active',
      [es1.kid]: 'active',
    });

    // every token the old keys signed has expired: they leave the JWKS
    expect((await store.keys.runScheduledRotation(policy, at(90 * DAY + 3659))).retired).toEqual([]);
    const retired = await store.keys.runScheduledRotation(policy, at(90 * DAY + 3660));
    expect(retired.retired.map((k) => [k.kid, k.state]).sort()).toEqual(
      [
        [rs0.kid, 'retired'],
        [es0.kid, 'retired'],
      ].sort(),
    );
    expect((await store.keys.listPublished(at(90 * DAY + 3660))).map((k) => k.kid).sort()).toEqual([rs1.kid, es1.kid].sort());
  });

  it('a manual rotation is scheduled after the pre-publication window; --immediate activates the successor now', async () => {
    const now = 91 * DAY;
    const [active] = byAlg(await store.keys.list(at(now)), 'ES256').filter((k) => k.state === 'active');
    const scheduled = await store.keys.scheduleRotation('ES256', policy, at(now));
    expect(scheduled).toMatchObject({ created: true, replaces: { kid: active.kid }, key: { state: 'next', activatesAt: at(now + 4500) } });
    const again = await store.keys.scheduleRotation('ES256', policy, at(now + 10));
    expect(again).toMatchObject({ created: false, key: { kid: scheduled.key.kid } });
    // the RS256 lifecycle is untouched
    expect(byAlg(await store.keys.list(at(now)), 'RS256').filter((k) => k.state === 'next')).toEqual([]);

    const emergency = await store.keys.rotateImmediately('ES256', 3660, at(now + 60));
    expect(emergency).toMatchObject({ created: false, key: { kid: scheduled.key.kid, state: 'active', activatesAt: at(now + 60) } });
    expect(emergency.activated.map((k) => k.kid)).toEqual([scheduled.key.kid]);
    const after = await store.keys.list(at(now + 60));
    expect(after.find((k) => k.kid === active.kid)).toMatchObject({ state: 'retiring', retiringSince: at(now + 60), retireAfter: at(now + 60 + 3660) });

    // with no successor scheduled, a new key signs at once
    const fresh = await store.keys.rotateImmediately('ES256', 3660, at(now + 120));
    expect(fresh).toMatchObject({ created: true, key: { state: 'active' }, replaces: { kid: scheduled.key.kid } });
    expect(fresh.published.map((k) => k.kid)).toEqual([fresh.key.kid]);
    expect(
      byAlg(await store.keys.list(at(now + 120)), 'ES256')
        .filter((k) => k.state === 'active')
        .map((k) => k.kid),
    ).toEqual([fresh.key.kid]);
  });

  it('the key ring load has the private halves of the keys that sign or will, and the database time', async () => {
    const ring = await store.keys.loadKeyRing();
    expect(Math.abs(ring.databaseNow.getTime() - Date.now())).toBeLessThan(60_000);
    for (const key of ring.keys) {
      expect(key.state === 'next' || key.state === 'active' ? typeof key.privateJwk?.d : key.privateJwk).toBe(
        key.state === 'next' || key.state === 'active' ? 'string' : null,
      );
      expect(JSON.stringify(key.publicJwk)).not.toMatch(/"d":/);
    }
  });

  it.runIf(driver.name === 'postgres')('one instance runs a round at a time (advisory lock): the others skip it', async () => {
    let release!: () => void;
    const held = new Promise<void>((ok) => (release = ok));
    let locked!: () => void;
    const lockTaken = new Promise<void>((ok) => (locked = ok));
    const holder = store.db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock(7262022)');
      locked();
      await held;
    });
    await lockTaken;
    expect(await store.keys.runScheduledRotation(policy)).toMatchObject({ ran: false });
    release();
    await holder;
    expect(await store.keys.runScheduledRotation(policy)).toMatchObject({ ran: true });
  });
});
