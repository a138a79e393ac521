import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { migrate, openDatabase, rateLimitQueries, type Database } from '@idp/database-identity';
import { createRateLimiter, EARLY_SYNC_DIVISOR, rateLimitHeaders } from './rate-limit';
import { embeddedTemplate } from '@idp/database-identity/testing';

describe('rate limiter', () => {
  it('allows up to the limit per window, then refuses with reset time; a new window starts afresh', () => {
    let t = 1_000_000_000_000;
    const limiter = createRateLimiter({ now: () => t });
    const rule = { limit: 3, windowSeconds: 60 };
    expect([1, 2, 3, 4].map(() => limiter.hit('ip:1', rule).allowed)).toEqual([true, true, true, false]);
    const refused = limiter.hit('ip:1', rule);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, limit: 3 });
    expect(rateLimitHeaders(refused)).toMatchObject({ 'Retry-After': String(refused.resetSeconds), 'RateLimit-Limit': '3', 'X-RateLimit-Remaining': '0' });
    expect(limiter.hit('ip:2', rule).allowed).toBe(true);
    t += 60_000;
    expect(limiter.hit('ip:1', rule).allowed).toBe(true);
    limiter.stop();
  });

  it('a limit of 0 is off', () => {
    const limiter = createRateLimiter();
    expect(Array.from({ length: 100 }, () => limiter.hit('k', { limit: 0, windowSeconds: 60 }).allowed).every(Boolean)).toBe(true);
    limiter.stop();
  });

  it("instances sharing a database see each other's hits after a sync", async () => {
    const db = await openDatabase({ embeddedTemplate: embeddedTemplate() });
    await migrate(db);
    const shared = rateLimitQueries(db);
    const a = createRateLimiter({ shared, syncEveryMs: 60_000 });
    const b = createRateLimiter({ shared, syncEveryMs: 60_000 });
    const rule = { limit: 5, windowSeconds: 3600 };
    for (let i = 0; i < 4; i++) expect(a.hit('client:x', rule).allowed).toBe(true);
    await a.sync();
    expect(b.hit('client:x', rule).allowed).toBe(true); // b alone: 1
    await b.sync(); // b learns the shared total: 5
    expect(b.hit('client:x', rule).allowed).toBe(false);
    a.stop();
    b.stop();
    await db.close();
  });

  describe.each(drivers())('across instances (%s)', (_name, open) => {
    it('keys are exact: a client_id with @ cannot reset its counter, ids sharing a prefix are independent', async () => {
      const db = await open();
      const shared = rateLimitQueries(db);
      const t = 1_000_000_000_000;
      const a = createRateLimiter({ shared, syncEveryMs: 3_600_000, now: () => t });
      const rule = { limit: 5, windowSeconds: 3600 };
      const allowed = (key: string, n: number) => Array.from({ length: n }, () => a.hit(key, rule).allowed).filter(Boolean).length;
      // before: the window id was cut at the first "@", so every sync read back 0 and the count started over
      let admitted = 0;
      for (let round = 0; round < 4; round++) {
        admitted += allowed('token:client:evil@x', 5);
        await a.sync();
      }
      expect(admitted).toBe(5);
      // "evil@y" shares the prefix "evil": its own window, untouched by evil@x's hits
      expect(allowed('token:client:evil@y', 5)).toBe(5);
      // a key of any length is stored exactly (as a digest past 128 characters) and still counts
      const long = `token:client:${'z'.repeat(3000)}`;
      let longAdmitted = 0;
      for (let round = 0; round < 3; round++) {
        longAdmitted += allowed(long, 4);
        await a.sync();
      }
      expect(longAdmitted).toBe(5);
      a.stop();
      await db.close();
    });

    it('two instances overshoot a shared limit by at most max(1, limit / EARLY_SYNC_DIVISOR) each other instance', async () => {
      const db = await open();
      const shared = rateLimitQueries(db);
      const t = 1_000_000_000_000;
      // the timer never fires here: only the early syncs that hits trigger
      const a = createRateLimiter({ shared, syncEveryMs: 3_600_000, now: () => t });
      const b = createRateLimiter({ shared, syncEveryMs: 3_600_000, now: () => t });
      const rule = { limit: 160, windowSeconds: 3600 };
      const bound = rule.limit + Math.max(1, Math.floor(rule.limit / EARLY_SYNC_DIVISOR));
      let admitted = 0;
      const hit = async (limiter: typeof a) => {
        if (limiter.hit('token:client:shared', rule).allowed) admitted++;
        await Promise.all([a.idle(), b.idle()]);
      };
      // a few hits on a, which stay below its early-sync threshold and unseen by b; then b runs alone;
      // then both alternate until well past the limit
      for (let i = 0; i < 9; i++) await hit(a);
      for (let i = 0; i < 200; i++) await hit(b);
      for (let i = 0; i < 200; i++) await hit(i % 2 ? a : b);
      expect(admitted).toBeGreaterThanOrEqual(rule.limit);
      expect(admitted).toBeLessThanOrEqual(bound);
      a.stop();
      b.stop();
      await db.close();
    });
  });
});

/** The embedded database always; real Postgres too when TEST_DATABASE_URL is set (a database of its own). */
function drivers(): [string, () => Promise<Database>][] {
  const list: [string, () => Promise<Database>][] = [
    [
      'embedded',
      async () => {
        const db = await openDatabase({ embeddedTemplate: embeddedTemplate() });
        await migrate(db);
        return db;
      },
    ],
  ];
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (adminUrl) {
    list.push([
      'postgres',
      async () => {
        const name = `idp_test_rl_${randomBytes(6).toString('hex')}`;
        const admin = await openDatabase({ databaseUrl: adminUrl, maxConnections: 1 });
        await admin.exec(`create database ${name}`);
        await admin.close();
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        const db = await openDatabase({ databaseUrl: url.toString(), maxConnections: 2 });
        await migrate(db);
        return {
          ...db,
          close: async () => {
            await db.close();
            const cleanup = await openDatabase({ databaseUrl: adminUrl, maxConnections: 1 });
            await cleanup.exec(`drop database if exists ${name} with (force)`);
            await cleanup.close();
          },
        };
      },
    ]);
  }
  return list;
}
