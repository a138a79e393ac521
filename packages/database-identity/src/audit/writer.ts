import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../driver';
import { SystemDate } from '../clock';

/** One row of identity.audit_logs as the writer receives it. */
export interface AuditRecord {
  eventId?: string;
  at?: Date;
  action: string;
  userId?: string | null;
  clientId?: string | null;
  grantType?: string | null;
  scopes?: string[] | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  details?: Record<string, unknown>;
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
  onError?: (error: unknown) => void;
}

export interface AuditWriterStats {
  queued: number;
  written: number;
  spooledEvents: number;
  spoolBytes: number;
  flushFailures: number;
  dropped: number;
  databaseAvailable: boolean;
}


/** SQLSTATE classes 22 (data exception) and 23 (integrity): the rows are at fault, not the connection. */
const isDataError = (error: unknown) => /^2[23]/.test(String((error as { code?: string })?.code ?? ''));

/**
 * Audit events are enqueued by request handlers, which never wait for the database, and written in
 * multi-row inserts by size and by time. When the database is unavailable, batches are appended to a
 * spool file (fsync'd, JSON lines) and replayed in order once it is back. Every event carries its id
 * from the moment it is enqueued and the insert skips ids already present, so a batch that is retried
 * or replayed is written exactly once.
 */
export class AuditWriter {
  #queue: QueuedRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #stats = { written: 0, flushFailures: 0, dropped: 0, spooledEvents: 0 };
  #databaseAvailable = true;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #maxQueue: number;
  readonly #retryMs: number;
  readonly #spoolFile: string | null;
  readonly #replayFile: string | null;

  constructor(private readonly db: Database, private readonly options: AuditWriterOptions = {}) {
    this.#batchSize = options.batchSize ?? 500;
    this.#intervalMs = options.flushIntervalMs ?? 200;
    this.#maxQueue = options.maxQueue ?? 50_000;
    this.#retryMs = options.retryIntervalMs ?? 1000;
    if (options.spoolDir) {
      mkdirSync(options.spoolDir, { recursive: true, mode: 0o700 });
      this.#spoolFile = join(options.spoolDir, 'audit-spool.jsonl');
      this.#replayFile = join(options.spoolDir, 'audit-spool.replaying.jsonl');
      // a spool left by an earlier run is replayed first, before anything new
      if (this.#hasSpool()) this.#schedule(0);
    } else {
      this.#spoolFile = this.#replayFile = null;
    }
  }

  record(event: AuditRecord): void {
    const queued: QueuedRecord = { ...event, eventId: event.eventId ?? randomUUID(), at: event.at ?? new SystemDate() };
    if (this.#queue.length >= this.#maxQueue && this.#spoolFile) {
      // back-pressure without unbounded memory: overflow goes to disk, in order after what is spooled
      this.#append([...this.#queue.splice(0), queued]);
      this.#schedule(this.#retryMs);
      return;
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
    this.#flushing = this.#drain(this.#queue.length).finally(() => (this.#flushing = null));
    await this.#flushing;
  }

  /** Under load: writes full batches only; the remainder waits for more events or the interval. */
  async #flushFullBatches(): Promise<void> {
    this.#flushing = this.#drain('full batches').finally(() => (this.#flushing = null));
    await this.#flushing;
  }

  /** Flushes at shutdown. Whatever the database cannot take now is on disk for the next start. */
  async close(): Promise<void> {
    // again while events that arrived during a flush are written (a flush writes what was queued at its start)
    do await this.flush();
    while (this.#queue.length && this.#databaseAvailable);
    if (this.#queue.length && this.#spoolFile) this.#append(this.#queue.splice(0));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
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
        if (this.#queue.length) this.#append(this.#queue.splice(0));
        await this.#replay();
      }
      while (count === 'full batches' ? this.#queue.length >= this.#batchSize : left > 0 && this.#queue.length) {
        const batch = this.#queue.slice(0, Math.min(this.#batchSize, left));
        left -= batch.length;
        await this.#insert(batch);
        this.#queue.splice(0, batch.length);
        this.#stats.written += batch.length;
      }
      this.#databaseAvailable = true;
    } catch (error) {
      this.#databaseAvailable = false;
      this.#stats.flushFailures++;
      this.options.onError?.(error);
      if (this.#spoolFile && this.#queue.length) this.#append(this.#queue.splice(0));
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
            return [{ ...parsed, at: new Date(parsed.at) }];
          } catch {
            return []; // a torn last line from a crash mid-write: its batch was never acknowledged
          }
        });
      for (let i = 0; i < events.length; i += this.#batchSize) {
        const batch = events.slice(i, i + this.#batchSize);
        await this.#insert(batch);
        this.#stats.written += batch.length;
      }
      rmSync(replaying, { force: true });
      this.#stats.spooledEvents = 0;
    }
  }

  async #insert(batch: QueuedRecord[]): Promise<void> {
    try {
      await this.#insertRows(batch);
    } catch (error) {
      if (!isDataError(error)) throw error;
      // a malformed row must not block the rest: write rows one by one, dropping only the bad fields
      for (const event of batch) {
        try {
          await this.#insertRows([event]);
        } catch (rowError) {
          if (!isDataError(rowError)) throw rowError;
          try {
            await this.#insertRows([{ ...event, userId: null, ip: null, details: { ...event.details, malformed_fields_dropped: true } }]);
          } catch (lastError) {
            if (!isDataError(lastError)) throw lastError;
            this.#stats.dropped++;
            this.options.onError?.(lastError);
          }
        }
      }
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
    const rows = batch.map((e) => ({
      event_id: e.eventId, created_at: e.at, action: e.action, user_id: e.userId ?? null, client_id: e.clientId ?? null,
      grant_type: e.grantType ?? null, ip_address: e.ip ?? null, user_agent: e.userAgent ?? null, request_id: e.requestId ?? null,
      resource_type: e.resourceType ?? 'oauth_token', resource_id: e.resourceId ?? e.clientId ?? null,
      details: { ...(e.scopes ? { scopes: e.scopes } : {}), ...e.details },
    }));
    await this.db.query(
      `insert into identity.audit_logs (event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, details)
       select event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, coalesce(details, '{}')
         from jsonb_to_recordset($1::text::jsonb) as e(event_id uuid, created_at timestamptz, action text, user_id uuid, client_id text, grant_type text,
              ip_address inet, user_agent text, request_id text, resource_type text, resource_id text, details jsonb)
       on conflict do nothing`,
      [JSON.stringify(rows)],
    );
  }

  /** Appends events as JSON lines and fsyncs before returning: once here, an event survives a crash. */
  #append(events: QueuedRecord[]): void {
    if (!this.#spoolFile || !events.length) return;
    const fd = openSync(this.#spoolFile, 'a', 0o600);
    try {
      writeSync(fd, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#stats.spooledEvents += events.length;
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
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, delayMs);
    this.#timer.unref?.();
  }
}
