import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../driver';
import { SystemDate } from '../clock';
import { isPermanentFailure, sqlState } from './failure';
import { sanitizeAuditEvent, truncateUtf8, type SanitizableAuditEvent } from './sanitize';

/** One row of identity.audit_logs as the writer receives it: the fields the sanitiser bounds, plus id and time. */
export interface AuditRecord extends SanitizableAuditEvent {
  eventId?: string;
  at?: Date;
}

type QueuedRecord = AuditRecord & { eventId: string; at: Date };

export interface AuditWriterOptions {
  /** Flush when this many events are queued. */
  batchSize?: number;
  /** Flush at least this often while events are queued. */
  flushIntervalMs?: number;
  /** Most events held in memory; beyond it events go straight to the spool file (bounded memory). */
  maxQueue?: number;
  /** Directory for the spool file. Without one, a failed batch stays queued in memory and is retried. */
  spoolDir?: string;
  /** Back-off between attempts to reach the database again. */
  retryIntervalMs?: number;
  /** How long close() tries to write the queue before it spools what is left (default 5 s). */
  closeDeadlineMs?: number;
  onError?: (error: unknown) => void;
}

export interface AuditWriterStats {
  queued: number;
  written: number;
  spooledEvents: number;
  spoolBytes: number;
  flushFailures: number;
  dropped: number;
  /** Events the database refused for good (permanent error), kept in identity.audit_dead_letters or the dead-letter file. */
  deadLettered: number;
  databaseAvailable: boolean;
}

/** An identity.audit_logs row as the insert takes it (and as a dead letter keeps it). */
type AuditRow = ReturnType<typeof toRow>;

function toRow(e: QueuedRecord) {
  return {
    event_id: e.eventId,
    created_at: e.at,
    action: e.action,
    user_id: e.userId ?? null,
    client_id: e.clientId ?? null,
    grant_type: e.grantType ?? null,
    ip_address: e.ip ?? null,
    user_agent: e.userAgent ?? null,
    request_id: e.requestId ?? null,
    resource_type: e.resourceType ?? 'oauth_token',
    resource_id: e.resourceId ?? e.clientId ?? null,
    // empty: the provider's default audience, like absent
    audience: e.audience || null,
    details: { ...(e.scopes ? { scopes: e.scopes } : {}), ...e.details },
  };
}

const errorMessage = (error: unknown) => truncateUtf8((error instanceof Error ? error.message : String(error)).replaceAll('\0', ''), 1024);

export const DEFAULT_CLOSE_DEADLINE_MS = 5_000;

/**
 * Audit events are enqueued by request handlers, which never wait for the database, and written in
 * multi-row inserts by size and by time. When the database is unavailable, batches are appended to a
 * spool file (fsync'd, JSON lines) and replayed in order once it is back. Every event carries its id
 * from the moment it is enqueued and the insert skips ids already present, so a batch that is retried
 * or replayed is written exactly once.
 *
 * Every event is sanitised as it is recorded (sanitize.ts: bounded strings, no NUL). A batch the database
 * refuses for a permanent reason (failure.ts) is bisected down to the rows at fault; those go to
 * identity.audit_dead_letters with their error (or, if the database will not take even that, to a
 * dead-letter file beside the spool), and everything else is written. Only transient failures spool.
 */
export class AuditWriter {
  #queue: QueuedRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #stats = { written: 0, flushFailures: 0, dropped: 0, spooledEvents: 0, deadLettered: 0 };
  #databaseAvailable = true;
  /** Set by close(): nothing is scheduled any more, and late events go straight to the spool. */
  #closed = false;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #maxQueue: number;
  readonly #retryMs: number;
  readonly #closeDeadlineMs: number;
  readonly #spoolFile: string | null;
  readonly #replayFile: string | null;
  readonly #deadLetterFile: string | null;

  constructor(
    private readonly db: Database,
    private readonly options: AuditWriterOptions = {},
  ) {
    this.#batchSize = options.batchSize ?? 500;
    this.#intervalMs = options.flushIntervalMs ?? 200;
    this.#maxQueue = options.maxQueue ?? 50_000;
    this.#retryMs = options.retryIntervalMs ?? 1000;
    this.#closeDeadlineMs = options.closeDeadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS;
    if (options.spoolDir) {
      mkdirSync(options.spoolDir, { recursive: true, mode: 0o700 });
      this.#spoolFile = join(options.spoolDir, 'audit-spool.jsonl');
      this.#replayFile = join(options.spoolDir, 'audit-spool.replaying.jsonl');
      this.#deadLetterFile = join(options.spoolDir, 'audit-dead-letters.jsonl');
      // a spool left by an earlier run is replayed first, before anything new
      if (this.#hasSpool()) this.#schedule(0);
    } else {
      this.#spoolFile = this.#replayFile = this.#deadLetterFile = null;
    }
  }

  record(event: AuditRecord): void {
    // bounded and cleaned here, once, before anything else sees it (queue, spool, database, dead letters)
    const queued: QueuedRecord = { ...sanitizeAuditEvent(event), eventId: event.eventId ?? randomUUID(), at: event.at ?? new SystemDate() };
    if (this.#closed && this.#spoolFile) {
      // after close (a request that finished late): straight to disk, for the next start
      if (this.#trySpool([queued])) return;
    } else if (this.#queue.length >= this.#maxQueue && this.#spoolFile) {
      // back-pressure without unbounded memory: overflow goes to disk, in order after what is spooled
      if (this.#trySpool([...this.#queue, queued])) {
        this.#queue.splice(0);
        this.#schedule(this.#retryMs);
        return;
      }
    }
    this.#queue.push(queued);
    // a full batch is written now; a flush in progress takes it before it ends (no second waiter per event)
    if (this.#queue.length >= this.#batchSize && !this.#flushing) void this.#flushFullBatches();
    else this.#schedule(this.#intervalMs);
  }

  stats(): AuditWriterStats {
    return {
      queued: this.#queue.length,
      written: this.#stats.written,
      spooledEvents: this.#stats.spooledEvents,
      spoolBytes: this.#spoolBytes(),
      flushFailures: this.#stats.flushFailures,
      dropped: this.#stats.dropped,
      deadLettered: this.#stats.deadLettered,
      databaseAvailable: this.#databaseAvailable,
    };
  }

  /** Writes (or spools) everything queued so far, and replays the spool if the database is reachable. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    while (this.#flushing) await this.#flushing;
    // closed: what is left was spooled, for the next start (not for a drain that outlived close's deadline)
    if (this.#closed) return;
    this.#flushing = this.#drain(this.#queue.length).finally(() => (this.#flushing = null));
    await this.#flushing;
  }

  /** Under load: writes full batches only; the remainder waits for more events or the interval. */
  async #flushFullBatches(): Promise<void> {
    this.#flushing = this.#drain('full batches').finally(() => (this.#flushing = null));
    await this.#flushing;
  }

  /**
   * Flushes at shutdown, within a deadline: whatever is not acknowledged by the database when the flush ends
   * or the deadline passes (the queue, including a batch whose insert is still in flight, e.g. on a frozen
   * database) is appended to the fsync'd spool before this returns, for the next start. A batch both written
   * and spooled is harmless: the replay skips event ids already present.
   */
  async close(deadlineMs: number = this.#closeDeadlineMs): Promise<void> {
    if (!this.#closed) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs))));
      const flushed = (async () => {
        // again while events that arrived during a flush are written (a flush writes what was queued at its start)
        do await this.flush();
        while (this.#queue.length && this.#databaseAvailable && !this.#closed);
      })();
      await Promise.race([flushed, deadline]);
      clearTimeout(timer);
      this.#closed = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.spoolPending();
  }

  /**
   * Synchronously appends every event not yet acknowledged by the database (queued or in flight) to the spool,
   * and fsyncs. For the last moment before a process exits (close() does it too). Returns how many were spooled.
   */
  spoolPending(): number {
    if (!this.#spoolFile || !this.#queue.length) return 0;
    const pending = this.#queue;
    if (!this.#trySpool(pending)) return 0;
    // a new array: an insert still in flight must not take its batch off the events recorded from now on
    this.#queue = [];
    return pending.length;
  }

  /**
   * Writes queued events in batches: the first `count` events, or full batches while there are any. Neither
   * chases the events that arrive meanwhile with partial batches: under load that meant many small inserts
   * back to back (each a statement and two round trips) instead of a few full ones.
   */
  async #drain(count: number | 'full batches'): Promise<void> {
    let left = count === 'full batches' ? Infinity : count;
    try {
      if (this.#hasSpool()) {
        // keep order: while a spool exists, new events join it and the spool is replayed first
        if (this.#queue.length && this.#trySpool(this.#queue)) this.#queue.splice(0);
        await this.#replay();
      }
      while (count === 'full batches' ? this.#queue.length >= this.#batchSize : left > 0 && this.#queue.length) {
        // the batch stays queued (and counted as not written) until the database acknowledges it
        const queue = this.#queue;
        const batch = queue.slice(0, Math.min(this.#batchSize, left));
        left -= batch.length;
        const deadLettered = await this.#insert(batch);
        // unless spoolPending() took the queue meanwhile: then these events are on disk (a harmless duplicate)
        if (queue === this.#queue) queue.splice(0, batch.length);
        this.#stats.written += batch.length - deadLettered;
      }
      this.#databaseAvailable = true;
    } catch (error) {
      // only transient failures get here: permanent ones are isolated and dead-lettered by #insert
      this.#databaseAvailable = false;
      this.#stats.flushFailures++;
      this.options.onError?.(error);
      if (this.#spoolFile && this.#queue.length && this.#trySpool(this.#queue)) this.#queue.splice(0);
      this.#schedule(this.#retryMs);
    }
  }

  /** Replays spooled events in file order, in batches; a crash mid-way replays again harmlessly. */
  async #replay(): Promise<void> {
    const spool = this.#spoolFile!;
    const replaying = this.#replayFile!;
    for (;;) {
      if (!existsSync(replaying)) {
        if (!existsSync(spool)) return;
        renameSync(spool, replaying);
      }
      const events = readFileSync(replaying, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .flatMap((line) => {
          try {
            const parsed = JSON.parse(line) as QueuedRecord;
            // sanitised again: a spool written by an earlier version may hold what the database refuses
            return [{ ...sanitizeAuditEvent(parsed), at: new Date(parsed.at) }];
          } catch {
            return []; // a torn last line from a crash mid-write: its batch was never acknowledged
          }
        });
      for (let i = 0; i < events.length; i += this.#batchSize) {
        const batch = events.slice(i, i + this.#batchSize);
        const deadLettered = await this.#insert(batch);
        this.#stats.written += batch.length - deadLettered;
      }
      rmSync(replaying, { force: true });
      this.#stats.spooledEvents = 0;
    }
  }

  /**
   * Inserts a batch; returns how many of its events were dead-lettered. A permanent failure is narrowed down
   * by bisection (about 2·log2(n) statements for one bad row in n) so that only the rows at fault are kept
   * out; a transient failure, at any depth, is thrown and the whole batch retried later (the rows already
   * written are skipped then, and a dead letter met again only counts another failure).
   */
  async #insert(batch: QueuedRecord[]): Promise<number> {
    if (batch.length === 1) return this.#insertOne(batch[0]);
    try {
      await this.#insertRows(batch);
      return 0;
    } catch (error) {
      if (!isPermanentFailure(error)) throw error;
    }
    const half = Math.ceil(batch.length / 2);
    return (await this.#insert(batch.slice(0, half))) + (await this.#insert(batch.slice(half)));
  }

  /** One event the database may refuse: written, written without its unparseable ids, or dead-lettered (1). */
  async #insertOne(event: QueuedRecord): Promise<number> {
    let failure: unknown;
    try {
      await this.#insertRows([event]);
      return 0;
    } catch (error) {
      if (!isPermanentFailure(error)) throw error;
      failure = error;
    }
    // the uuid and inet columns parse what they get: the rest of the event is worth keeping without them
    const dropped = [...(event.userId ? ['user_id'] : []), ...(event.ip ? ['ip_address'] : [])];
    if (dropped.length) {
      try {
        await this.#insertRows([{ ...event, userId: null, ip: null, details: { ...event.details, malformed_fields_dropped: dropped } }]);
        return 0;
      } catch (error) {
        if (!isPermanentFailure(error)) throw error;
      }
    }
    await this.#deadLetter(event, failure);
    return 1;
  }

  /**
   * Keeps an event the database refused, with the error: in identity.audit_dead_letters, or in the
   * dead-letter file when the database refuses that too. A transient failure here is thrown (the batch is
   * retried later, this event with it).
   */
  async #deadLetter(event: QueuedRecord, failure: unknown): Promise<void> {
    const row = toRow(event);
    const code = sqlState(failure);
    const message = errorMessage(failure);
    this.options.onError?.(failure);
    try {
      const [stored] = await this.db.query<{ failures: number }>(
        `insert into identity.audit_dead_letters (event_id, event, error_code, error_message) values ($1::uuid, $2::text::jsonb, $3, $4)
         on conflict (event_id) do update set failures = identity.audit_dead_letters.failures + 1, last_failed_at = now(),
           error_code = excluded.error_code, error_message = excluded.error_message
         returning failures`,
        [event.eventId, JSON.stringify(row), code, message],
      );
      // met again (a batch retried after a transient failure): already counted
      if (Number(stored?.failures ?? 1) === 1) this.#stats.deadLettered++;
      return;
    } catch (error) {
      if (!isPermanentFailure(error)) throw error;
      if (!this.#deadLetterFile) {
        this.#stats.dropped++;
        this.options.onError?.(error);
        return;
      }
      const line = {
        event_id: event.eventId,
        event: row,
        error_code: code,
        error_message: message,
        failed_at: new Date(),
        dead_letter_error: { code: sqlState(error), message: errorMessage(error) },
      };
      appendDurably(this.#deadLetterFile, JSON.stringify(line) + '\n');
      this.#stats.deadLettered++;
    }
  }

  /**
   * One statement per batch with the whole batch as a single JSON parameter: serialising one string is far
   * cheaper for the app than binding twelve parameters per event, and the database expands it in one pass.
   * Typed as text first: postgres.js would JSON-encode a value it knows to be jsonb a second time.
   * `on conflict do nothing` without a target: the event_id unique index (whatever columns it spans once
   * audit_logs is partitioned) makes a replayed event a no-op.
   */
  async #insertRows(batch: QueuedRecord[]): Promise<void> {
    const rows: AuditRow[] = batch.map(toRow);
    await this.db.query(
      `insert into identity.audit_logs (event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, audience, details)
       select event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, audience, coalesce(details, '{}')
         from jsonb_to_recordset($1::text::jsonb) as e(event_id uuid, created_at timestamptz, action text, user_id uuid, client_id text, grant_type text,
              ip_address inet, user_agent text, request_id text, resource_type text, resource_id text, audience text, details jsonb)
       on conflict do nothing`,
      [JSON.stringify(rows)],
    );
  }

  /** Appends events as JSON lines and fsyncs before returning: once here, an event survives a crash. */
  #append(events: QueuedRecord[]): void {
    if (!this.#spoolFile || !events.length) return;
    appendDurably(this.#spoolFile, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    this.#stats.spooledEvents += events.length;
  }

  /** #append, reporting a failure (disk full) instead of throwing: the caller keeps the events in memory. */
  #trySpool(events: QueuedRecord[]): boolean {
    try {
      this.#append(events);
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }

  #hasSpool(): boolean {
    return !!this.#spoolFile && (existsSync(this.#spoolFile) || existsSync(this.#replayFile!));
  }

  #spoolBytes(): number {
    if (!this.#spoolFile) return 0;
    let bytes = 0;
    for (const file of [this.#spoolFile, this.#replayFile!]) if (existsSync(file)) bytes += statSync(file).size;
    return bytes;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, delayMs);
    this.#timer.unref?.();
  }
}

function appendDurably(file: string, text: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
