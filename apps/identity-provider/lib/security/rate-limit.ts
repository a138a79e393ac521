import { createHash } from 'node:crypto';
import { rateLimitSlot, systemNow, type RateLimitQueries } from '@idp/database-identity';

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
  /** Resolves when no sync is in flight (tests). */
  idle(): Promise<void>;
  stop(): void;
}

interface Window {
  /** The exact key: never parsed back out of an id (a client_id may contain any character). */
  key: string;
  start: number;
  windowSeconds: number;
  /** Hits here not yet sent to the shared store. */
  unsynced: number;
  /** Hits sent in a sync that has not answered yet: still counted here until the total includes them. */
  inFlight: number;
  /** Total as last reported by the shared store (every instance's hits). */
  shared: number;
}

/**
 * An instance syncs a window early, without waiting for the timer, once its unsynced hits reach this
 * fraction of the room the window has left: far from the limit rarely, near it after every hit. Hits no
 * other instance has seen yet are then at most max(1, limit / EARLY_SYNC_DIVISOR) per instance, which
 * bounds the overshoot (README, "Rate limits").
 */
export const EARLY_SYNC_DIVISOR = 16;
/** Keys longer than this are stored as a digest: exact, and of bounded size whatever a client sends. */
const MAX_STORED_KEY = 128;

const storedKey = (key: string) => (key.length <= MAX_STORED_KEY ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`);

/**
 * Fixed-window counters kept in memory and, when `shared` is given, merged across instances through the
 * database: each instance sends its new hits in one upsert and reads back the totals, every `syncEveryMs`
 * and early as a window nears its limit. Decisions never wait for the database, so the token endpoint keeps
 * its speed; the price is a bounded overshoot across instances (EARLY_SYNC_DIVISOR).
 */
export function createRateLimiter(
  options: { shared?: RateLimitQueries; syncEveryMs?: number; now?: () => number; onError?: (e: unknown) => void } = {},
): RateLimiter {
  const now = options.now ?? systemNow;
  // keyed by window start and exact key; the id is only ever looked up, never split
  const windows = new Map<string, Window>();
  let syncing: Promise<void> | null = null;

  const sync = async () => {
    if (!options.shared) return;
    const sent: { w: Window; increment: number; slot: string }[] = [];
    for (const w of windows.values()) {
      if (w.unsynced <= 0) continue;
      sent.push({ w, increment: w.unsynced, slot: rateLimitSlot(storedKey(w.key), new Date(w.start)) });
      w.inFlight += w.unsynced;
      w.unsynced = 0;
    }
    if (!sent.length) return;
    try {
      const totals = await options.shared.addAndRead(
        sent.map(({ w, increment }) => ({ key: storedKey(w.key), windowStart: new Date(w.start), windowSeconds: w.windowSeconds, increment })),
      );
      for (const { w, increment, slot } of sent) {
        w.inFlight -= increment;
        w.shared = Math.max(w.shared, totals.get(slot) ?? 0);
      }
    } catch (error) {
      for (const { w, increment } of sent) {
        w.inFlight -= increment;
        w.unsynced += increment;
      }
      options.onError?.(error);
    }
  };
  const startSync = () => (syncing ??= sync().finally(() => (syncing = null)));

  const timer = options.shared ? setInterval(() => void startSync(), options.syncEveryMs ?? 1000) : null;
  timer?.unref();
  const sweeper = setInterval(() => {
    const t = now();
    for (const [id, w] of windows) if (w.start + w.windowSeconds * 1000 < t && w.unsynced === 0 && w.inFlight === 0) windows.delete(id);
  }, 60_000);
  sweeper.unref();

  return {
    hit(key, rule) {
      if (rule.limit <= 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
      const t = now();
      const start = Math.floor(t / (rule.windowSeconds * 1000)) * rule.windowSeconds * 1000;
      const id = `${start} ${key}`;
      let w = windows.get(id);
      if (!w) windows.set(id, (w = { key, start, windowSeconds: rule.windowSeconds, unsynced: 0, inFlight: 0, shared: 0 }));
      w.unsynced++;
      const count = w.shared + w.inFlight + w.unsynced;
      if (options.shared && w.unsynced >= Math.max(1, Math.floor((rule.limit - w.shared) / EARLY_SYNC_DIVISOR))) void startSync();
      return {
        allowed: count <= rule.limit,
        limit: rule.limit,
        remaining: Math.max(0, rule.limit - count),
        resetSeconds: Math.max(1, Math.ceil((start + rule.windowSeconds * 1000 - t) / 1000)),
      };
    },
    async sync() {
      while (syncing) await syncing;
      await startSync();
    },
    async idle() {
      while (syncing) await syncing;
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
    'RateLimit-Limit': limit,
    'RateLimit-Remaining': remaining,
    'RateLimit-Reset': reset,
    'X-RateLimit-Limit': limit,
    'X-RateLimit-Remaining': remaining,
    'X-RateLimit-Reset': reset,
    'Retry-After': reset,
  };
}
