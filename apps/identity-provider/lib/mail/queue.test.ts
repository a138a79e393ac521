import { openIdentityStore, type IdentityStore, type MailMessage } from '@idp/database-identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../oidc/audit';
import { MailWorker } from './queue';
import { MailDeliveryError, type MailTransport } from './transport';
import { embeddedTemplate } from '@idp/database-identity/testing';

const message: MailMessage = {
  to: 'someone@example.org',
  subject: 'Reset your password',
  text: 'https://id.example/interaction/reset-link?token=t0p-secret',
  html: '<a>x</a>',
};

/** A transport that fails as scripted, then delivers. */
function scripted(failures: (MailDeliveryError | Error)[]): MailTransport & { delivered: MailMessage[] } {
  const delivered: MailMessage[] = [];
  return {
    kind: 'smtp',
    delivered,
    async deliver(m) {
      const failure = failures.shift();
      if (failure) throw failure;
      delivered.push(m);
    },
    close: () => {},
  };
}

describe('mail worker', () => {
  let store: IdentityStore;
  let time = new Date('2031-05-01T12:00:00Z').getTime();
  const now = () => new Date(time);
  beforeAll(async () => {
    store = await openIdentityStore({ keyEncryptionSecret: 'k'.repeat(48), embeddedTemplate: embeddedTemplate() });
  });
  afterAll(() => store?.close());

  function worker(transport: MailTransport, events: AuditEvent[], maxAttempts = 3) {
    return new MailWorker({ enqueueTo: store.mailQueue, queue: store.mailQueue, transport, audit: { record: (e) => void events.push(e) }, now, maxAttempts });
  }

  it('retries transient failures with growing back-off (injected clock), then delivers and audits ids only', async () => {
    const events: AuditEvent[] = [];
    const transport = scripted([Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), Object.assign(new Error('busy'), { responseCode: 421 })]);
    const w = worker(transport, events);
    await w.send({ template: 'password_reset', userId: null, message });
    await w.idle();
    expect(transport.delivered).toEqual([]);
    expect(events.at(-1)).toMatchObject({ action: 'mail.failed', details: { template: 'password_reset', attempt: 1, error: 'ECONNREFUSED', final: false } });
    expect(await w.runOnce()).toBe(0); // not due yet
    time += 30_000;
    expect(await w.runOnce()).toBe(1);
    expect(events.at(-1)).toMatchObject({ action: 'mail.failed', details: { attempt: 2, error: 'SMTP_421', final: false } });
    time += 59_000;
    expect(await w.runOnce()).toBe(0); // the second wait is 60 s
    time += 1_000;
    expect(await w.runOnce()).toBe(1);
    expect(transport.delivered).toEqual([message]);
    expect(events.at(-1)).toMatchObject({ action: 'mail.sent', details: { template: 'password_reset', attempt: 3, transport: 'smtp' } });
    expect(JSON.stringify(events)).not.toMatch(/t0p-secret|someone@example\.org/);
    w.stop();
  });

  it('gives up at once on a permanent failure, and after maxAttempts otherwise', async () => {
    const events: AuditEvent[] = [];
    const w = worker(
      scripted([
        Object.assign(new Error('no such user'), { responseCode: 550 }),
        ...Array.from({ length: 5 }, () => Object.assign(new Error('x'), { code: 'ETIMEDOUT' })),
      ]),
      events,
      2,
    );
    await w.send({ template: 'email_verification', userId: null, message });
    await w.idle();
    expect(events.at(-1)).toMatchObject({ action: 'mail.failed', details: { error: 'SMTP_550', final: true, retry_at: null } });
    await w.send({ template: 'email_verification', userId: null, message });
    await w.idle();
    time += 3_600_000;
    await w.runOnce();
    expect(events.at(-1)).toMatchObject({ action: 'mail.failed', details: { attempt: 2, error: 'ETIMEDOUT', final: true } });
    expect(await store.mailQueue.counts()).toMatchObject({ queued: 0, failed: 2 });
    w.stop();
  });
});
