import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter, createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

/** Ranges and filters that select nothing, or no user-issued token, answer with zeros, not an error. */
describe.each(driversUnderTest())('token dashboard on empty selections, $name', (driver) => {
  let store: IdentityStore;
  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, 'k'.repeat(40));
    const writer = new AuditWriter(db);
    const at = new Date(Date.now() - 3 * 3600_000);
    writer.record({ action: 'token.issued.client_credentials', clientId: 'svc', grantType: 'client_credentials', at });
    writer.record({ action: 'token.validation_failed', clientId: 'svc', details: { reason: 'invalid_grant' }, at });
    await writer.close();
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  const day = (from: number, to: number) => ({ start: new Date(Date.now() - from * 3600_000), end: new Date(Date.now() - to * 3600_000), timeZone: 'UTC' });

  it('a range with no events at all', async () => {
    const d = await store.analytics.dashboard({ start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-01-02T00:00:00Z'), timeZone: 'UTC' });
    expect(d.stats).toMatchObject({ total_issued: 0, total_refreshed: 0, total_failed: 0, unique_users: 0, unique_clients: 0 });
    expect(d.top_users).toEqual([]);
  });

  it('a range whose only tokens were issued to a client, not a user', async () => {
    const d = await store.analytics.dashboard(day(4, 2));
    expect(d.stats).toMatchObject({ total_issued: 1, total_failed: 1, unique_users: 0, unique_clients: 1 });
    expect(d.top_users).toEqual([]);
  });

  it('a client filter that matches nothing', async () => {
    const d = await store.analytics.dashboard({ ...day(24, 0), clientId: 'nobody' });
    expect(d.stats).toMatchObject({ total_issued: 0, unique_clients: 0 });
  });
});
