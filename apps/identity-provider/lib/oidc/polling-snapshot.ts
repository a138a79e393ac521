import { systemNow } from './domain';

export interface PollingSnapshotOptions {
  /** How often the value is checked against its source (a cheap fingerprint query in practice). */
  checkEveryMs: number;
  /** While a check is slow or failing, the last good value is served until it is this old; then callers wait and may fail. */
  maxStaleMs: number;
  /** How long a caller holding a stale value waits for the check before it is served the stale one. */
  waitMs: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

/** How a cache built on a PollingSnapshot is tuned; unset fields take the cache's defaults (README). */
export type SnapshotTiming = Partial<PollingSnapshotOptions>;

/** A cache's timing: its own check interval, and the same staleness bound (5 minutes) and wait (100 ms) for all. */
export function snapshotOptions(timing: SnapshotTiming, checkEveryMs: number): PollingSnapshotOptions {
  return {
    checkEveryMs: timing.checkEveryMs ?? checkEveryMs,
    maxStaleMs: timing.maxStaleMs ?? 300_000,
    waitMs: timing.waitMs ?? 100,
    now: timing.now,
    onError: timing.onError,
  };
}

/** Lookups that miss trigger a check at most this often, however many there are. */
const MISS_RECHECK_MS = 250;

export interface SnapshotHealth {
  loaded: boolean;
  /** Milliseconds since the last successful check, or null before the first. */
  ageMs: number | null;
  /** The value may still be served: loaded and no older than maxStaleMs. */
  usable: boolean;
}

/**
 * A value loaded from the database and kept in memory, re-checked every `checkEveryMs`: the shape of the
 * client registry and the key ring. One check at a time (callers share it, and a check still running in the
 * database is never doubled by the next). A caller with a stale value waits at most `waitMs` for the check,
 * then gets the last good value: a slow or locked table costs requests nothing until the value is
 * `maxStaleMs` old. Only the first load, and a value past that bound, make callers wait for the database
 * (whose own deadline then bounds the wait).
 */
export class PollingSnapshot<T> {
  #value: T | undefined;
  #loadedAt = -Infinity;
  #checkedAt = -Infinity;
  #inflight: Promise<T> | null = null;
  #missCheckedAt = -Infinity;
  readonly #now: () => number;

  constructor(
    private readonly load: (previous: T | undefined) => Promise<T>,
    private readonly options: PollingSnapshotOptions,
  ) {
    this.#now = options.now ?? systemNow;
  }

  /** The value when it needs no check now, else undefined (the synchronous fast path). */
  fresh(): T | undefined {
    return this.#now() - this.#checkedAt < this.options.checkEveryMs ? this.#value : undefined;
  }

  /** The last good value, however old (undefined before the first load). */
  current(): T | undefined {
    return this.#value;
  }

  async get(): Promise<T> {
    const fresh = this.fresh();
    if (fresh !== undefined) return fresh;
    const check = this.refresh();
    if (this.#value === undefined) return check;
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      check.then(
        () => true,
        () => false,
      ),
      new Promise<false>((ok) => (timer = setTimeout(() => ok(false), this.options.waitMs))),
    ]);
    clearTimeout(timer);
    if (!waited && this.#now() - this.#loadedAt > this.options.maxStaleMs) return check;
    return this.#value;
  }

  /** Starts a check now unless one is running; resolves with the new value. */
  refresh(): Promise<T> {
    if (this.#inflight) return this.#inflight;
    // cleared before anyone awaiting it resumes: a settled check is never handed out again
    const started = this.#load().finally(() => (this.#inflight = null));
    this.#inflight = started;
    // a check nobody waits for (the caller got the stale value) must not become an unhandled rejection
    started.catch((error: unknown) => this.options.onError?.(error));
    return started;
  }

  async #load(): Promise<T> {
    const value = await this.load(this.#value);
    this.#value = value;
    this.#loadedAt = this.#checkedAt = this.#now();
    return value;
  }

  /**
   * A check for a lookup that missed (a client, resource server or kid created moments ago on another
   * instance), at most every MISS_RECHECK_MS; null when the last one was more recent.
   */
  refreshAfterMiss(): Promise<T> | null {
    const t = this.#now();
    if (t - this.#missCheckedAt <= MISS_RECHECK_MS) return null;
    this.#missCheckedAt = t;
    return this.refresh();
  }

  /** The next get() checks first (a change made through this process). */
  invalidate(): void {
    this.#checkedAt = -Infinity;
  }

  health(): SnapshotHealth {
    const age = this.#value === undefined ? null : this.#now() - this.#loadedAt;
    return { loaded: this.#value !== undefined, ageMs: age, usable: age !== null && age <= this.options.maxStaleMs };
  }
}
