import type { IdentityStore } from '@idp/database-identity';
import type { Logger } from './log';

/**
 * Periodic upkeep as named jobs, run one after another on one interval by whichever host runs the process:
 * server.ts (the custom server) or instrumentation.ts (`next start` and other hosts that run Next's own
 * server). A job reports what it did as counts; one job failing never skips the others.
 */

/** What one run of a job did, as counts (logged at info when any is non-zero, at debug otherwise). */
export type JobResult = Record<string, number>;
export type MaintenanceJob = () => Promise<JobResult>;

/** Token rollups: closed hours sealed off the audit writer's path (the insert trigger takes over if this stops). */
export async function sealRollups(store: Pick<IdentityStore, 'analytics'>): Promise<JobResult> {
  return { rollupHoursSealed: await store.analytics.sealInBackground() };
}

/**
 * Expired grants (kept at least a day, and twice the access-token lifetime, so a replay or an introspection
 * of a recent token still finds its grant), rate-limit windows and forgotten login throttles.
 */
export async function purgeExpired(store: Pick<IdentityStore, 'grants' | 'rateLimits' | 'users'>, accessTokenTtlSeconds: number): Promise<JobResult> {
  return {
    purgedGrants: await store.grants.purgeExpired(Math.max(86_400, accessTokenTtlSeconds * 2)),
    purgedRateLimits: await store.rateLimits.purgeExpired(),
    purgedLoginThrottles: await store.users.purgeLoginThrottles(),
  };
}

/** audit_logs: monthly partitions created ahead of time. */
export async function ensurePartitions(store: Pick<IdentityStore, 'analytics'>): Promise<JobResult> {
  return { auditPartitionsCreated: await store.analytics.ensurePartitions() };
}

/** Raw audit months past AUDIT_RETENTION_DAYS dropped (their hours are sealed first; rollups keep the history). */
export async function applyRetention(store: Pick<IdentityStore, 'analytics'>): Promise<JobResult> {
  return { auditPartitionsDropped: await store.analytics.applyRetention() };
}

export interface JobStatus {
  runs: number;
  failures: number;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

export interface MaintenanceStatus {
  started: boolean;
  everyMs: number;
  rounds: number;
  jobs: Record<string, JobStatus>;
}

export interface MaintenanceTimers {
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const systemTimers: MaintenanceTimers = {
  setInterval: (run, ms) => {
    const timer = setInterval(run, ms);
    timer.unref();
    return timer;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface MaintenanceOptions {
  jobs: Record<string, MaintenanceJob>;
  everyMs: number;
  log: Pick<Logger, 'debug' | 'info' | 'error'>;
  now?: () => Date;
  timers?: MaintenanceTimers;
}

/**
 * Runs the jobs every `everyMs`. Starting twice is a no-op (one process, one loop, whichever host asks
 * first); a tick still running when the next is due makes that one skip, so slow upkeep never piles up.
 */
export class MaintenanceScheduler {
  readonly #jobs: [string, MaintenanceJob][];
  readonly #status = new Map<string, JobStatus>();
  readonly #now: () => Date;
  readonly #timers: MaintenanceTimers;
  #handle: unknown = null;
  #running: Promise<void> | null = null;
  #ticks = 0;

  constructor(private readonly options: MaintenanceOptions) {
    this.#jobs = Object.entries(options.jobs);
    this.#now = options.now ?? (() => new Date());
    this.#timers = options.timers ?? systemTimers;
    for (const [name] of this.#jobs)
      this.#status.set(name, { runs: 0, failures: 0, lastRunAt: null, lastSuccessAt: null, lastDurationMs: null, lastError: null });
  }

  /** Starts the loop (once); returns its stopper. */
  start(): () => void {
    this.#handle ??= this.#timers.setInterval(() => void this.tick(), this.options.everyMs);
    return () => this.stop();
  }

  stop(): void {
    if (this.#handle !== null) this.#timers.clearInterval(this.#handle);
    this.#handle = null;
  }

  /** One round of every job, in order (a round already running is joined, not doubled). */
  tick(): Promise<void> {
    this.#running ??= this.#runAll().finally(() => (this.#running = null));
    return this.#running;
  }

  async #runAll(): Promise<void> {
    this.#ticks += 1;
    for (const [name, job] of this.#jobs) {
      const status = this.#status.get(name)!;
      const started = this.#now();
      status.runs += 1;
      status.lastRunAt = started;
      try {
        const result = await job();
        status.lastSuccessAt = this.#now();
        status.lastDurationMs = status.lastSuccessAt.getTime() - started.getTime();
        status.lastError = null;
        const level = Object.values(result).some((n) => n > 0) ? 'info' : 'debug';
        this.options.log[level]('maintenance', { job: name, durationMs: status.lastDurationMs, ...result });
      } catch (error) {
        status.failures += 1;
        status.lastDurationMs = this.#now().getTime() - started.getTime();
        status.lastError = error instanceof Error ? error.name : 'Error';
        this.options.log.error('maintenance job failed', { job: name, error });
      }
    }
  }

  status(): MaintenanceStatus {
    return {
      started: this.#handle !== null,
      everyMs: this.options.everyMs,
      rounds: this.#ticks,
      jobs: Object.fromEntries([...this.#status].map(([name, s]) => [name, { ...s }])),
    };
  }
}
