import type { MailMessage, MailQueueQueries, MailTemplate } from '@idp/database-identity';
import type { AuditSink, MailSender } from '../oidc/ports';
import type { IdpMetrics } from '../observability/metrics';
import { classifyDeliveryError, type MailTransport } from './transport';

export interface MailWorkerOptions {
  /** Where requests enqueue (the request path's deadline-bounded store). */
  enqueueTo: Pick<MailQueueQueries, 'enqueue'>;
  /** Where the worker claims and settles messages (the unbounded store). */
  queue: Pick<MailQueueQueries, 'claimDue' | 'markSent' | 'markFailed'>;
  transport: MailTransport;
  audit: AuditSink;
  /** Each delivery attempt is counted here (mail_messages_total); the CLI's worker has none. */
  metrics?: Pick<IdpMetrics, 'mailDelivery'>;
  now?: () => Date;
  /** How often due messages (retries) are looked for; a new message is tried at once anyway. */
  pollMs?: number;
  batchSize?: number;
  /** A claimed message another worker may take over after this (a crash mid-delivery). */
  leaseSeconds?: number;
  /** Attempts before a message is given up on (mail.failed with final: true). */
  maxAttempts?: number;
  /** Seconds to wait before attempt n + 1, after n failed attempts. */
  backoffSeconds?: (failedAttempts: number) => number;
  onError?: (error: unknown) => void;
}

/** 30 s, 1 min, 2 min... capped at an hour: about 8 attempts over 2 hours. */
export const defaultBackoffSeconds = (failed: number) => Math.min(3600, 30 * 2 ** (failed - 1));

/**
 * Delivers the mail queue: a new message is tried at once (off the request), failures are retried with
 * exponential back-off, every outcome is audited as `mail.sent` / `mail.failed` with ids, template and the
 * transport's error code only (never the recipient, the link or the body).
 */
export class MailWorker implements MailSender {
  readonly #o: Required<Omit<MailWorkerOptions, 'onError' | 'metrics'>> & Pick<MailWorkerOptions, 'onError' | 'metrics'>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(options: MailWorkerOptions) {
    this.#o = { now: () => new Date(), pollMs: 5_000, batchSize: 10, leaseSeconds: 120, maxAttempts: 8, backoffSeconds: defaultBackoffSeconds, ...options };
  }

  get transportKind(): MailTransport['kind'] {
    return this.#o.transport.kind;
  }

  async send(input: { template: MailTemplate; userId: string | null; message: MailMessage }): Promise<void> {
    await this.#o.enqueueTo.enqueue({ ...input, now: this.#o.now() });
    this.wake();
  }

  /** Runs a delivery round soon; one round at a time (a wake during a round runs another after it). */
  wake(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          while ((await this.runOnce()) === this.#o.batchSize);
        } while (this.#again);
      } catch (error) {
        this.#o.onError?.(error);
      } finally {
        this.#running = null;
      }
    })();
  }

  /** One batch: claims due messages and delivers them. Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const { queue, transport, audit, metrics, now } = this.#o;
    const claimed = await queue.claimDue(now(), this.#o.batchSize, this.#o.leaseSeconds);
    for (const mail of claimed) {
      const base = { userId: mail.userId, details: { mail_id: mail.id, template: mail.template, attempt: mail.attempts, transport: transport.kind } };
      try {
        await transport.deliver(mail.message);
        await queue.markSent(mail.id, now());
        audit.record({ action: 'mail.sent', ...base });
        metrics?.mailDelivery(mail.template, 'sent');
      } catch (error) {
        const failure = classifyDeliveryError(error);
        const final = failure.permanent || mail.attempts >= this.#o.maxAttempts;
        const retryAt = final ? null : new Date(now().getTime() + this.#o.backoffSeconds(mail.attempts) * 1000);
        await queue.markFailed(mail.id, failure.code, retryAt);
        audit.record({ action: 'mail.failed', ...base, details: { ...base.details, error: failure.code, final, retry_at: retryAt?.toISOString() ?? null } });
        metrics?.mailDelivery(mail.template, final ? 'failed' : 'retry');
      }
    }
    return claimed.length;
  }

  /** Resolves when no round is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  start(): () => void {
    this.#timer ??= setInterval(() => this.wake(), this.#o.pollMs);
    this.#timer.unref();
    this.wake();
    return () => this.stop();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#o.transport.close();
  }
}
