import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, rateLimitQueries } from '@idp/database-identity';
import { createRateLimiter, rateLimitHeaders } from './rate-limit';

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

  it('instances sharing a database see each other\'s hits after a sync', async () => {
    const db = await openDatabase({});
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
});
