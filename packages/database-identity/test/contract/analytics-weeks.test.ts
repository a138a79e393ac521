import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

/**
 * Unique users over ranges that contain whole UTC weeks, which are read from the weekly user bitmaps
 * (grain 'w'): exact against a count made here, after a late event into a day of a sealed
 * week (the week must not be read stale), once it is resealed, and after a rebuild.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CLIENTS = ['a', 'b', 'c', null] as const;

interface Ev {
  at: number;
  userId: string | null;
  clientId: string | null;
  action: string;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

describe.each(driversUnderTest())('token analytics over whole weeks, $name', (driver) => {
  let store: IdentityStore;
  let anchor: number;
  const users = Array.from({ length: 400 }, () => randomUUID());
  let all: Ev[] = [];

  async function write(evs: Ev[]) {
    await store.db.query(
      `insert into identity.audit_logs (created_at, action, user_id, client_id, grant_type, details)
       select e.at, e.action, e.user_id, e.client_id, case when e.action like 'token.issued.%' then 'authorization_code' end, '{}'::jsonb
         from jsonb_to_recordset($1::text::jsonb) as e(at timestamptz, action text, user_id uuid, client_id text)`,
      [JSON.stringify(evs.map((e) => ({ at: new Date(e.at).toISOString(), action: e.action, user_id: e.userId, client_id: e.clientId })))],
    );
    all = [...all, ...evs];
  }

  function distinctUsers(start: number, end: number, clientId?: string | null) {
    return new Set(all.filter((e) => e.at >= start && e.at < end && e.userId && (clientId === undefined || e.clientId === clientId)).map((e) => e.userId)).size;
  }

  async function verify(what: string) {
    for (const [start, end] of [
      [anchor - 23 * DAY, anchor],
      [anchor - 19 * DAY - 5 * HOUR + 77, anchor - 2 * DAY + 3],
    ]) {
      const d = await store.analytics.dashboard({ start: new Date(start), end: new Date(end), top: 10 });
      expect(d.stats.unique_users, `${what}: unique users`).toBe(distinctUsers(start, end));
      for (const c of d.top_clients) expect(c.unique_users, `${what}: client ${c.client_id}`).toBe(distinctUsers(start, end, c.client_id));
      const one = await store.analytics.dashboard({ start: new Date(start), end: new Date(end), clientId: 'b' });
      expect(one.stats.unique_users, `${what}: client b filter`).toBe(distinctUsers(start, end, 'b'));
    }
  }

  beforeAll(async () => {
    // the sealing clock stands still: the incremental pass and the rebuild see the same sealable hours
    const now = new Date();
    const db = await driver.openMigrated({ analyticsClock: now });
    store = createIdentityStore(db, 'k'.repeat(16) + 'contract-suite-key-material');
    anchor = now.getTime() - 2000;
    const r = rng(42);
    const evs: Ev[] = [];
    for (let i = 0; i < 2500; i++) {
      const x = r();
      evs.push({
        at: anchor - 1 - Math.floor(r() * 24 * DAY),
        action: x < 0.5 ? 'token.issued.authorization_code' : x < 0.8 ? 'token.refreshed' : 'token.userinfo_accessed',
        userId: r() < 0.05 ? null : users[Math.floor(users.length * r() ** 2)],
        clientId: CLIENTS[Math.floor(r() * CLIENTS.length)],
      });
    }
    await write(evs.sort((a, b) => a.at - b.at));
    await store.analytics.sealPending();
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('counts the users of whole weeks exactly, from the weekly bitmaps', async () => {
    const [{ weeks }] = await store.db.query<{ weeks: number }>(
      `select count(distinct bucket)::int as weeks from identity.token_rollup_users where grain = 'w' and bucket >= $1::timestamptz`,
      [new Date(anchor - 19 * DAY).toISOString()],
    );
    expect(weeks).toBeGreaterThanOrEqual(2);
    await verify('sealed');
  });

  it('does not read a week stale after a late event, and rebuilds it', async () => {
    // a user never seen before, late into a sealed week (10 days ago), for client b
    const late = { at: anchor - 10 * DAY - 3 * HOUR, action: 'token.issued.authorization_code', userId: randomUUID(), clientId: 'b' };
    await write([late]);
    await verify('late event');
    await store.analytics.sealPending();
    await verify('resealed');
    const snapshot = () =>
      store.db.query(`select grain, bucket, all_clients, client_id, chunk, members::text from identity.token_rollup_users order by 1, 2, 3, 4, 5`);
    const before = await snapshot();
    await store.analytics.rebuild();
    expect(await snapshot()).toEqual(before);
    await verify('rebuilt');
  }, 180_000);
});
