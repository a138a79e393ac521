import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

/**
 * analytics.status(), what `npm run idp -- analytics:status` prints: watermark and dirty hours move as hours
 * are sealed, the sealer's heartbeat as background rounds run, and the partitions and retention are listed.
 */
const HOUR = 3_600_000;

describe.each(driversUnderTest())('token analytics status, $name', (driver) => {
  let store: IdentityStore;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, 'k'.repeat(16) + 'contract-suite-key-material');
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('a fresh database: nothing sealed, no heartbeat, this month and the next ones partitioned', async () => {
    const status = await store.analytics.status();
    expect(status.watermark).toBeNull();
    expect(status).toMatchObject({ dirtyHours: 0, dirtyDays: 0, oldestDirtyHour: null, oldestRawEvent: null });
    expect(status.sealer).toEqual({ seenAt: null, timeoutSeconds: 300, alive: false });
    expect(status.settings).toMatchObject({ rawRetentionDays: 400, partitionsAhead: 3 });
    const monthly = status.partitions.filter((p) => p.from);
    const thisMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)).toISOString();
    expect(monthly.map((p) => p.from)).toContain(thisMonth);
    for (const p of monthly) expect(new Date(p.to!).getTime()).toBeGreaterThan(new Date(p.from!).getTime());
    // the default partition (rows outside every month) is listed last, without bounds
    expect(status.partitions.at(-1)).toMatchObject({ from: null, to: null });
    expect(Date.parse(status.clock)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('follows sealing: the watermark moves past written hours, a late event makes its hour dirty, the sealer beats', async () => {
    const threeHoursAgo = new Date(Date.now() - 3 * HOUR);
    const insert = (at: Date) =>
      store.db.query(
        `insert into identity.audit_logs (created_at, action, client_id, grant_type, details) values ($1::timestamptz, 'token.issued.client_credentials', 'svc', 'client_credentials', '{}'::jsonb)`,
        [at.toISOString()],
      );
    await insert(threeHoursAgo);
    await store.analytics.sealInBackground();
    const sealed = await store.analytics.status();
    expect(Date.parse(sealed.watermark!)).toBeGreaterThan(threeHoursAgo.getTime());
    expect(sealed.sealer.alive).toBe(true);
    expect(Date.parse(sealed.sealer.seenAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(sealed.oldestRawEvent).toBe(threeHoursAgo.toISOString());

    await insert(new Date(threeHoursAgo.getTime() + 1));
    const late = await store.analytics.status();
    expect(late.dirtyHours).toBe(1);
    const hour = new Date(threeHoursAgo);
    hour.setUTCMinutes(0, 0, 0);
    expect(late.oldestDirtyHour).toBe(hour.toISOString());
    await store.analytics.sealPending();
    expect((await store.analytics.status()).dirtyHours).toBe(0);
  });
});
