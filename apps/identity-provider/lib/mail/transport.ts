import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transporter } from 'nodemailer';
import type { MailMessage } from '@idp/database-identity';
import type { Config } from '../env';

/** The development outbox (/dev/outbox): mails land here when SMTP_URL is unset. */
export const outboxDir = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'outbox');

/** Where messages go: an SMTP server, the development outbox, or (production without SMTP_URL) nowhere. */
export interface MailTransport {
  readonly kind: 'smtp' | 'outbox' | 'none';
  deliver(message: MailMessage): Promise<void>;
  close(): void;
}

/** A transport failure the queue may retry (connection trouble, 4xx) or not (5xx, bad address, no transport). */
export class MailDeliveryError extends Error {
  constructor(
    readonly code: string,
    readonly permanent: boolean,
  ) {
    super(`mail delivery failed (${code})`);
    this.name = 'MailDeliveryError';
  }
}

/** The SMTP reply class or socket error of a nodemailer failure; never the message or its recipients. */
export function classifyDeliveryError(error: unknown): MailDeliveryError {
  if (error instanceof MailDeliveryError) return error;
  const e = error as { responseCode?: number; code?: string } | null;
  const responseCode = typeof e?.responseCode === 'number' ? e.responseCode : null;
  const code = responseCode ? `SMTP_${responseCode}` : /^[A-Z_]{2,40}$/.test(String(e?.code ?? '')) ? String(e!.code) : 'UNKNOWN';
  // 5xx replies and refused envelopes will not succeed later; connection trouble and 4xx may
  const permanent = (responseCode !== null && responseCode >= 500) || code === 'EENVELOPE';
  return new MailDeliveryError(code, permanent);
}

/** nodemailer over SMTP_URL (smtp:// or smtps://, credentials in the URL); loaded with the first message. */
export function smtpTransport(smtpUrl: string, from: string): MailTransport {
  let transporter: Transporter | undefined;
  return {
    kind: 'smtp',
    async deliver(message) {
      try {
        transporter ??= (await import('nodemailer')).default.createTransport(smtpUrl, { from });
        await transporter.sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html });
      } catch (error) {
        throw classifyDeliveryError(error);
      }
    },
    close: () => transporter?.close(),
  };
}

export interface OutboxEntry extends MailMessage {
  id: string;
  from: string;
  at: string;
}

/**
 * Development without SMTP: each message is a JSON file in `dir` (mode 0600), listed at /dev/outbox so a
 * newcomer can follow the link. Never in production (config refuses it there).
 */
export function outboxTransport(dir: string, from: string, now: () => Date = () => new Date()): MailTransport {
  return {
    kind: 'outbox',
    async deliver(message) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const at = now();
      const id = `${at.getTime()}-${randomBytes(4).toString('hex')}`;
      const entry: OutboxEntry = { id, from, at: at.toISOString(), ...message };
      await writeFile(join(dir, `${id}.json`), JSON.stringify(entry, null, 2), { mode: 0o600 });
    },
    close: () => {},
  };
}

/** The newest `limit` messages of the development outbox, newest first. */
export async function readOutbox(dir: string, limit = 50): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => /^\d+-[0-9a-f]{8}\.json$/.test(name));
  } catch {
    return [];
  }
  names.sort((a, b) => Number(b.split('-')[0]) - Number(a.split('-')[0]) || b.localeCompare(a));
  const entries: OutboxEntry[] = [];
  for (const name of names.slice(0, limit)) {
    try {
      entries.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as OutboxEntry);
    } catch {
      // a file being written or damaged: skipped
    }
  }
  return entries;
}

/** Production without SMTP_URL: every message fails for good, loudly (mail.failed), so nothing piles up. */
export function noTransport(): MailTransport {
  return {
    kind: 'none',
    deliver: async () => {
      throw new MailDeliveryError('NO_TRANSPORT', true);
    },
    close: () => {},
  };
}
