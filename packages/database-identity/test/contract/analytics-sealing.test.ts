import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter, createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const HOUR = 3600_000;

/**
 * Who seals the token rollups: the audit_logs trigger on the writer's path, unless a background sealer
 * (identity.token_rollup_seal_background, the provider's maintenance loop) has a fresh heartbeat.
 */
describe.each(driversUnderTest())('token rollup sealing on $name', (driver) => {
  let store: IdentityStore;
  // a whole hour, well in the past and well clear of any hour edge the test could straddle
  const hour = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;

  async function write(events: { action: string; at: number; clientId: string }[]) {
    const writer = new AuditWriter(store.db);
    for (const e of events) {
      writer.record({
        action: e.action,
        clientId: e.clientId,
        grantType: e.action === 'token.issued.client_credentials' ? 'client_credentials' : undefined,
        at: new Date(e.at),
      });
    }
    await writer.close();
  }

  async function sealed() {
    const [row] = await store.db.query<{ hours: number; dirty: number; dirtyDays: number }>(
      `select (select count(*) from identity.token_rollup where grain = 'h' and all_clients and audience = '*' and bucket >= $1::timestamptz)::int as hours,
              (select count(*) from identity.token_rollup_dirty where grain = 'h')::int as dirty,
              (select count(*) from identity.token_rollup_dirty where grain = 'd')::int as "dirtyDays"`,
      [new Date(hour - 3 * HOUR).toISOString()],
    );
    return row;
  }

  async function heartbeatAgo(interval: string) {
    await store.db.query(`update identity.token_rollup_sealer set seen_at = now() - $1::interval`, [interval]);
  }

  async function issuedInHour() {
    const d = await store.analytics.dashboard({ start: new Date(hour), end: new Date(hour + HOUR), timeZone: 'UTC' });
    return d.stats.total_issued;
  }

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, 'k'.repeat(40));
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('leaves sealing to a live background sealer, which then seals', async () => {
    expect(await store.analytics.sealInBackground()).toBe(0); // heartbeat; nothing written yet
    await write([
      { action: 'token.issued.client_credentials', at: hour + 60_000, clientId: 'svc' },
      { action: 'token.issued.client_credentials', at: hour + 20 * 60_000, clientId: 'svc' },
    ]);
    // closed hours, but the writer's trigger did not seal them: they are read raw, exactly
    expect(await sealed()).toEqual({ hours: 0, dirty: 0, dirtyDays: 0 });
    expect(await issuedInHour()).toBe(2);

    expect(await store.analytics.sealInBackground()).toBe(1);
    expect(await sealed()).toEqual({ hours: 1, dirty: 0, dirtyDays: 0 });
    expect(await issuedInHour()).toBe(2);
  });

  it('leaves late events in sealed hours to the background sealer too', async () => {
    await write([{ action: 'token.issued.client_credentials', at: hour + 30 * 60_000, clientId: 'svc' }]);
    // (its day is dirty too when that day is already closed, i.e. between 00:00 and 05:00 UTC)
    expect(await sealed()).toMatchObject({ hours: 1, dirty: 1 });
    expect(await issuedInHour()).toBe(3);
    await store.analytics.sealInBackground();
    expect(await sealed()).toEqual({ hours: 1, dirty: 0, dirtyDays: 0 });
    expect(await issuedInHour()).toBe(3);
  });

  it('still counts a heartbeat within the sealer timeout (5 minutes) as alive', async () => {
    await heartbeatAgo('4 minutes');
    await write([{ action: 'token.issued.client_credentials', at: hour + 35 * 60_000, clientId: 'svc' }]);
    expect(await sealed()).toMatchObject({ hours: 1, dirty: 1 });
    expect(await issuedInHour()).toBe(4);
  });

  it('seals on the writer path again once the background sealer has gone quiet', async () => {
    await heartbeatAgo('5 minutes 1 second');
    await write([{ action: 'token.issued.client_credentials', at: hour + 40 * 60_000, clientId: 'svc' }]);
    // the trigger resealed the hour the late events landed in
    expect(await sealed()).toEqual({ hours: 1, dirty: 0, dirtyDays: 0 });
    expect(await issuedInHour()).toBe(5);
    const [{ events }] = await store.db.query<{ events: number }>(
      `select events::int from identity.token_rollup where grain = 'h' and all_clients and audience = '*' and bucket = $1::timestamptz`,
      [new Date(hour).toISOString()],
    );
    expect(events).toBe(5);
  });

  it('does not take a heartbeat from the future (a clock override) for a live sealer', async () => {
    await heartbeatAgo('-1 day');
    await write([{ action: 'token.issued.client_credentials', at: hour + 50 * 60_000, clientId: 'svc' }]);
    expect(await sealed()).toEqual({ hours: 1, dirty: 0, dirtyDays: 0 });
    expect(await issuedInHour()).toBe(6);
  });

  it('seals at most maxHours hours with events per round, an hour per statement', async () => {
    await store.analytics.sealInBackground(); // a fresh heartbeat: the trigger leaves the new hours alone
    await write([1, 2, 3].map((k) => ({ action: 'token.issued.client_credentials', at: hour + k * HOUR + 60_000, clientId: 'svc' })));
    expect(await sealed()).toMatchObject({ hours: 1 });
    expect(await store.analytics.sealInBackground(2)).toBe(2);
    expect(await sealed()).toMatchObject({ hours: 3 });
    expect(await store.analytics.sealInBackground(2)).toBe(1);
    expect(await store.analytics.sealInBackground(2)).toBe(0);
    expect(await sealed()).toEqual({ hours: 4, dirty: 0, dirtyDays: 0 });
  });

  it('refuses a round that could seal nothing', async () => {
    await expect(store.db.query('select identity.token_rollup_seal_background(0)')).rejects.toThrow(/at least 1/);
  });
});
