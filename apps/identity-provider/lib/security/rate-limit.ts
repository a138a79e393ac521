import { systemNow, type RateLimitQueries } from '@idp/database-identity';

/** A limit: at most `limit` hits per fixed window of `windowSeconds`. A limit of 0 turns it off. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

export interface RateLimiter {
  /** Counts one hit for `key` and says whether it is within `rule`. */
  hit(key: string, rule: RateLimitRule): RateLimitDecision;
  /** Pushes local counts to the shared store now (tests, shutdown). */
  sync(): Promise<void>;
  stop(): void;
}

interface Window {
  start: number;
  windowSeconds: number;
  /** Hits here not yet sent to the shared store. */
  unsynced: number;
  /** Total as last reported by the shared store (every instance's hits). */
  shared: number;
}

/**
 * Fixed-window counters kept in memory and, when `shared` is given, merged across instances through the
 * database once per `syncEveryMs`: each instance sends its new hits in one upsert and reads back the
 * totals. Decisions never wait for the database, so the token endpoint keeps its speed; the price is that
 * instances learn about each other's hits up to one sync interval late.
 */
export function createRateLimiter(options: { shared?: RateLimitQueries; syncEveryMs?: number; now?: () => number; onError?: (e: unknown) => void } = {}): RateLimiter {
  const now = options.now ?? systemNow;
  const windows = new Map<string, Window>();
  let syncing: Promise<void> | null = null;

  const sync = async () => {
    if (!options.shared) return;
    const pending = [...windows].filter(([, w]) => w.unsynced > 0);
    if (!pending.length) return;
    const sent = pending.map(([key, w]) => ({ key, w, increment: w.unsynced }));
    for (const s of sent) s.w.unsynced -= s.increment;
    try {
      const totals = await options.shared.addAndRead(sent.map(({ key, w, increment }) => ({ key: key.split('@')[0], windowStart: new Date(w.start), windowSeconds: w.windowSeconds, increment })));
      for (const { key, w } of sent) w.shared = Math.max(w.shared, totals.get(key) ?? 0);
    } catch (error) {
      for (const s of sent) s.w.unsynced += s.increment;
      options.onError?.(error);
    }
  };

  const timer = options.shared ? setInterval(() => void (syncing ??= sync().finally(() => (syncing = null))), options.syncEveryMs ?? 1000) : null;
  timer?.unref();
  const sweeper = setInterval(() => {
    const t = now();
    for (const [key, w] of windows) if (w.start + w.windowSeconds * 1000 < t && w.unsynced === 0) windows.delete(key);
  }, 60_000);
  sweeper.unref();

  return {
    hit(key, rule) {
      if (rule.limit <= 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
      const t = now();
      const start = Math.floor(t / (rule.windowSeconds * 1000)) * rule.windowSeconds * 1000;
      const id = `${key}@${start}`;
      let w = windows.get(id);
      if (!w) windows.set(id, (w = { start, windowSeconds: rule.windowSeconds, unsynced: 0, shared: 0 }));
      w.unsynced++;
      const count = w.shared + w.unsynced;
      return {
        allowed: count <= rule.limit,
        limit: rule.limit,
        remaining: Math.max(0, rule.limit - count),
        resetSeconds: Math.max(1, Math.ceil((start + rule.windowSeconds * 1000 - t) / 1000)),
      };
    },
    async sync() {
      while (syncing) await syncing;
      await sync();
    },
    stop() {
      if (timer) clearInterval(timer);
      clearInterval(sweeper);
    },
  };
}

/**
 * The RateLimit-* fields (IETF httpapi draft) on every limited response; on a refusal also Retry-After and the
 * older X-RateLimit-* names that many clients still read. Successful responses leave the legacy trio out:
 * they are the token endpoint's hottest path, and would carry six more headers on every token.
 */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  if (!decision.limit) return {};
  const limit = String(decision.limit);
  const remaining = String(decision.remaining);
  const reset = String(decision.resetSeconds);
  if (decision.allowed) return { 'RateLimit-Limit': limit, 'RateLimit-Remaining': remaining, 'RateLimit-Reset': reset };
  return {
    'RateLimit-Limit': limit, 'RateLimit-Remaining': remaining, 'RateLimit-Reset': reset,
    'X-RateLimit-Limit': limit, 'X-RateLimit-Remaining': remaining, 'X-RateLimit-Reset': reset,
    'Retry-After': reset,
  };
}
