import type { SecretBox } from '../crypto/secrets';
import type { Queryable } from '../driver';

export type MailTemplate = 'password_reset' | 'email_verification';

/** A rendered message; held only sealed (AES-256-GCM) in identity.mail_queue. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface QueuedMail {
  id: string;
  template: MailTemplate;
  userId: string | null;
  /** Delivery attempts including the one this claim is for. */
  attempts: number;
  message: MailMessage;
}

type ClaimRow = { id: string; template: MailTemplate; user_id: string | null; attempts: number; message_encrypted: string };

/**
 * The outgoing mail queue. Messages are sealed with the store's SecretBox before they reach SQL and opened
 * only by the worker that delivers them; the sealed copy is dropped once delivered or given up on.
 */
export function mailQueueQueries(db: Queryable, box: SecretBox) {
  return {
    async enqueue(input: { template: MailTemplate; userId: string | null; message: MailMessage; now: Date }): Promise<string> {
      const [row] = await db.query<{ id: string }>(
        `insert into identity.mail_queue (template, user_id, message_encrypted, next_attempt_at, created_at)
         values ($1, $2, $3, $4::timestamptz, $4::timestamptz) returning id`,
        [input.template, input.userId, box.encrypt(JSON.stringify(input.message)), input.now.toISOString()],
      );
      return row.id;
    },

    /**
     * Claims up to `limit` due messages for `leaseSeconds` (another worker may take a message over after
     * that, e.g. when this one crashed) and counts the attempt. Rows locked by a concurrent claim are skipped.
     */
    async claimDue(now: Date, limit: number, leaseSeconds: number): Promise<QueuedMail[]> {
      const rows = await db.query<ClaimRow>(
        `update identity.mail_queue q
            set attempts = q.attempts + 1, locked_until = $1::timestamptz + make_interval(secs => $3)
          where q.id in (select id from identity.mail_queue
                          where status = 'queued' and next_attempt_at <= $1::timestamptz and (locked_until is null or locked_until <= $1::timestamptz)
                          order by next_attempt_at limit $2 for update skip locked)
          returning q.id, q.template, q.user_id, q.attempts, q.message_encrypted`,
        [now.toISOString(), limit, leaseSeconds],
      );
      return rows.map((row) => ({
        id: row.id,
        template: row.template,
        userId: row.user_id,
        attempts: row.attempts,
        message: JSON.parse(box.decrypt(row.message_encrypted)) as MailMessage,
      }));
    },

    async markSent(id: string, now: Date): Promise<void> {
      await db.query(
        `update identity.mail_queue set status = 'sent', sent_at = $2::timestamptz, message_encrypted = null, locked_until = null, last_error = null where id = $1`,
        [id, now.toISOString()],
      );
    },

    /** A failed attempt: tried again at `retryAt`, or given up on (null), dropping the sealed message. */
    async markFailed(id: string, error: string, retryAt: Date | null): Promise<void> {
      await db.query(
        `update identity.mail_queue
            set status = case when $3::timestamptz is null then 'failed' else 'queued' end,
                message_encrypted = case when $3::timestamptz is null then null else message_encrypted end,
                next_attempt_at = coalesce($3::timestamptz, next_attempt_at), locked_until = null, last_error = left($2, 200)
          where id = $1`,
        [id, error, retryAt?.toISOString() ?? null],
      );
    },

    /** Counts by status (readiness, tests). */
    async counts(): Promise<Record<'queued' | 'sent' | 'failed', number>> {
      const rows = await db.query<{ status: 'queued' | 'sent' | 'failed'; n: number }>(
        `select status, count(*)::int as n from identity.mail_queue group by status`,
      );
      const counts = { queued: 0, sent: 0, failed: 0 };
      for (const row of rows) counts[row.status] = row.n;
      return counts;
    },

    /** Forgets delivered and failed messages older than `keepSeconds`. */
    async purgeFinished(keepSeconds: number, now: Date = new Date()): Promise<number> {
      const rows = await db.query(
        `delete from identity.mail_queue where status <> 'queued' and created_at < $1::timestamptz - make_interval(secs => $2) returning 1`,
        [now.toISOString(), keepSeconds],
      );
      return rows.length;
    },
  };
}

export type MailQueueQueries = ReturnType<typeof mailQueueQueries>;
