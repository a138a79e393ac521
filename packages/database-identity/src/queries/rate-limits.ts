import type { Queryable } from '../driver';

export interface RateLimitDelta {
  key: string;
  windowStart: Date;
  windowSeconds: number;
  increment: number;
}

/** How addAndRead's answer is keyed: the window's start, then the exact key (which may contain anything). */
export const rateLimitSlot = (key: string, windowStart: Date) => `${windowStart.getTime()} ${key}`;

export function rateLimitQueries(db: Queryable) {
  return {
    /**
     * Adds local counts to the shared counters in one statement and returns each key's total for its
     * window, so every instance sees what the others counted. Keyed by rateLimitSlot(key, windowStart).
     */
    async addAndRead(deltas: RateLimitDelta[]): Promise<Map<string, number>> {
      if (!deltas.length) return new Map();
      const rows = await db.query<{ key: string; window_start: Date; count: number }>(
        `insert into identity.rate_limits as r (key, window_start, count, expires_at)
         select d.key, d.window_start, d.increment, d.window_start + make_interval(secs => d.window_seconds)
           from unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[]) as d(key, window_start, increment, window_seconds)
         on conflict (key, window_start) do update set count = r.count + excluded.count
         returning key, window_start, count`,
        [deltas.map((d) => d.key), deltas.map((d) => d.windowStart.toISOString()), deltas.map((d) => d.increment), deltas.map((d) => d.windowSeconds)],
      );
      return new Map(rows.map((r) => [rateLimitSlot(r.key, new Date(r.window_start)), r.count]));
    },

    async purgeExpired(): Promise<number> {
      const rows = await db.query(`delete from identity.rate_limits where expires_at < now() returning 1`);
      return rows.length;
    },
  };
}

export type RateLimitQueries = ReturnType<typeof rateLimitQueries>;
