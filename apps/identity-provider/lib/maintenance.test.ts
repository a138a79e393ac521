import { describe, expect, it, vi } from 'vitest';
import type { IdentityStore } from '@idp/database-identity';
import { applyRetention, ensurePartitions, MaintenanceScheduler, purgeExpired, sealRollups, type MaintenanceTimers } from './maintenance';

/** Intervals driven by hand: `fire()` is the interval coming due. */
function manualTimers() {
  const intervals = new Map<number, { run: () => void; ms: number }>();
  let next = 1;
  const timers: MaintenanceTimers = {
    setInterval: (run, ms) => {
      intervals.set(next, { run, ms });
      return next++;
    },
    clearInterval: (handle) => void intervals.delete(handle as number),
  };
  return { timers, intervals, fire: () => [...intervals.values()].forEach((i) => i.run()) };
}

/** A clock that moves 7 ms on every reading: durations are then exact. */
function steppingClock(start = Date.UTC(2026, 11, 2, 1, 0, 0)) {
  let t = start;
  return () => new Date((t += 7));
}

const quietLog = () => ({ debug: vi.fn(), info: vi.fn(), error: vi.fn() });

describe('maintenance jobs', () => {
  it('sealRollups seals in the background and reports the hours', async () => {
    const sealInBackground = vi.fn().mockResolvedValue(3);
    const store = { analytics: { sealInBackground } } as unknown as Pick<IdentityStore, 'analytics'>;
    expect(await sealRollups(store)).toEqual({ rollupHoursSealed: 3 });
    expect(sealInBackground).toHaveBeenCalledOnce();
  });

  it('purgeExpired keeps grants at least a day and twice the access-token lifetime', async () => {
    const grants = { purgeExpired: vi.fn().mockResolvedValue(4) };
    const store = {
      grants,
      rateLimits: { purgeExpired: vi.fn().mockResolvedValue(2) },
      users: { purgeLoginThrottles: vi.fn().mockResolvedValue(1) },
    } as unknown as Pick<IdentityStore, 'grants' | 'rateLimits' | 'users'>;
    expect(await purgeExpired(store, 900)).toEqual({ purgedGrants: 4, purgedRateLimits: 2, purgedLoginThrottles: 1 });
    expect(grants.purgeExpired).toHaveBeenLastCalledWith(86_400);
    await purgeExpired(store, 100_000);
    expect(grants.purgeExpired).toHaveBeenLastCalledWith(200_000);
  });

  it('ensurePartitions and applyRetention report the partitions created and dropped', async () => {
    const analytics = { ensurePartitions: vi.fn().mockResolvedValue(2), applyRetention: vi.fn().mockResolvedValue(1) };
    const store = { analytics } as unknown as Pick<IdentityStore, 'analytics'>;
    expect(await ensurePartitions(store)).toEqual({ auditPartitionsCreated: 2 });
    expect(await applyRetention(store)).toEqual({ auditPartitionsDropped: 1 });
    // retention follows the configured days stored in the analytics settings: no argument here
    expect(analytics.applyRetention).toHaveBeenCalledWith();
  });
});

describe('MaintenanceScheduler', () => {
  it('runs every job in order on each interval, and only after start', async () => {
    const { timers, intervals, fire } = manualTimers();
    const order: string[] = [];
    const job = (name: string) => async () => (order.push(name), { n: 0 });
    const scheduler = new MaintenanceScheduler({ jobs: { a: job('a'), b: job('b') }, everyMs: 60_000, log: quietLog(), timers, now: steppingClock() });
    expect(scheduler.status()).toMatchObject({ started: false, rounds: 0 });
    const stop = scheduler.start();
    expect([...intervals.values()].map((i) => i.ms)).toEqual([60_000]);
    expect(order).toEqual([]); // nothing at start: the first round is one interval away
    fire();
    await scheduler.tick(); // joins the round the interval started
    fire();
    await scheduler.tick();
    expect(order).toEqual(['a', 'b', 'a', 'b']);
    expect(scheduler.status()).toMatchObject({ started: true, rounds: 2, jobs: { a: { runs: 2, failures: 0, lastDurationMs: 7 } } });
    stop();
    expect(intervals.size).toBe(0);
    expect(scheduler.status().started).toBe(false);
  });

  it('starting twice keeps one loop', () => {
    const { timers, intervals } = manualTimers();
    const scheduler = new MaintenanceScheduler({ jobs: {}, everyMs: 1000, log: quietLog(), timers });
    scheduler.start();
    scheduler.start();
    expect(intervals.size).toBe(1);
  });

  it('a failing job is counted and logged, and the next jobs still run', async () => {
    const log = quietLog();
    const after = vi.fn().mockResolvedValue({ n: 1 });
    const scheduler = new MaintenanceScheduler({
      jobs: { broken: () => Promise.reject(new TypeError('boom')), after },
      everyMs: 1000,
      log,
      now: steppingClock(),
    });
    await scheduler.tick();
    expect(after).toHaveBeenCalledOnce();
    const { jobs } = scheduler.status();
    expect(jobs.broken).toMatchObject({ runs: 1, failures: 1, lastSuccessAt: null, lastError: 'TypeError' });
    expect(jobs.after).toMatchObject({ runs: 1, failures: 0, lastError: null });
    expect(log.error).toHaveBeenCalledWith('maintenance job failed', expect.objectContaining({ job: 'broken' }));
    // a job that did something is logged at info, one that found nothing to do at debug
    expect(log.info).toHaveBeenCalledWith('maintenance', expect.objectContaining({ job: 'after', n: 1 }));
  });

  it('a round still running when the next is due is not doubled', async () => {
    let release!: () => void;
    const slow = vi.fn(() => new Promise<{ n: number }>((ok) => (release = () => ok({ n: 0 }))));
    const scheduler = new MaintenanceScheduler({ jobs: { slow }, everyMs: 1000, log: quietLog() });
    const first = scheduler.tick();
    const second = scheduler.tick();
    expect(second).toBe(first);
    release();
    await first;
    expect(slow).toHaveBeenCalledOnce();
    expect(scheduler.status().rounds).toBe(1);
  });

  it('with real timers (faked), a round runs each interval', async () => {
    vi.useFakeTimers();
    try {
      const job = vi.fn().mockResolvedValue({ n: 0 });
      const scheduler = new MaintenanceScheduler({ jobs: { job }, everyMs: 60_000, log: quietLog() });
      const stop = scheduler.start();
      await vi.advanceTimersByTimeAsync(59_999);
      expect(job).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(job).toHaveBeenCalledOnce();
      await vi.advanceTimersByTimeAsync(120_000);
      expect(job).toHaveBeenCalledTimes(3);
      stop();
      await vi.advanceTimersByTimeAsync(600_000);
      expect(job).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
