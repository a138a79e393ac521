import { randomUUID } from 'node:crypto';
import type { Database } from '../driver';

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

export interface AuditWriterOptions {
  /** Flush when this many events are queued. */
  batchSize?: number;
  /** Flush at least this often while events are queued. */
  flushIntervalMs?: number;
  onError?: (error: unknown) => void;
}

export interface AuditWriterStats {
  queued: number;
  written: number;
  flushFailures: number;
}

const COLUMNS = 11;

/**
 * Batches audit events into multi-row inserts so request handlers never wait for the database.
 * Events get their id when enqueued, and the insert ignores ids already present, so a batch retried
 * after a failure is written exactly once.
 */
export class AuditWriter {
  #queue: (AuditRecord & Required<Pick<AuditRecord, 'eventId' | 'at'>>)[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #stats: AuditWriterStats = { queued: 0, written: 0, flushFailures: 0 };
  readonly #batchSize: number;
  readonly #intervalMs: number;

  constructor(private readonly db: Database, private readonly options: AuditWriterOptions = {}) {
    this.#batchSize = options.batchSize ?? 500;
    this.#intervalMs = options.flushIntervalMs ?? 200;
  }

  record(event: AuditRecord): void {
    this.#queue.push({ ...event, eventId: event.eventId ?? randomUUID(), at: event.at ?? new Date() });
    if (this.#queue.length >= this.#batchSize) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
  }

  stats(): AuditWriterStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  /** Writes everything queued so far. Failed batches go back to the front of the queue. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    while (this.#flushing) await this.#flushing;
    if (!this.#queue.length) return;
    const batch = this.#queue.splice(0, this.#batchSize);
    this.#flushing = this.#insert(batch)
      .then(() => {
        this.#stats.written += batch.length;
      })
      .catch((error: unknown) => {
        this.#stats.flushFailures++;
        this.#queue.unshift(...batch);
        this.options.onError?.(error);
        this.#timer ??= setTimeout(() => void this.flush(), Math.max(this.#intervalMs, 1000));
      })
      .finally(() => {
        this.#flushing = null;
      });
    await this.#flushing;
    if (this.#queue.length >= this.#batchSize) await this.flush();
  }

  async #insert(batch: AuditRecord[]): Promise<void> {
    const values: unknown[] = [];
    const rows = batch.map((e, i) => {
      values.push(e.eventId, e.at, e.action, e.userId ?? null, e.clientId ?? null, e.grantType ?? null, e.ip ?? null,
        e.userAgent ?? null, e.requestId ?? null, e.resourceType ?? 'oauth_token', { ...(e.scopes ? { scopes: e.scopes } : {}), ...e.details });
      const base = i * COLUMNS;
      return `(${Array.from({ length: COLUMNS }, (_, k) => `$${base + k + 1}`).join(', ')})`;
    });
    await this.db.query(
      `insert into identity.audit_logs (event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, details)
       values ${rows.join(', ')} on conflict (event_id) do nothing`,
      values,
    );
  }

  /** Flushes and stops the timer; call at shutdown. */
  async close(): Promise<void> {
    await this.flush();
    while (this.#queue.length && this.#stats.flushFailures < 1_000_000) {
      const before = this.#queue.length;
      await this.flush();
      if (this.#queue.length >= before) break;
    }
  }
}
