import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { getContainer } from '@/lib/http/next';
import { outboxDir, readOutbox } from '@/lib/mail/transport';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Development outbox · Identity provider', robots: { index: false } };

const URL_IN_TEXT = /(https?:\/\/[^\s<>"]+)/g;

/**
 * Development only (no SMTP_URL, not production): the mails the provider would have sent, newest first,
 * with their links clickable. 404 everywhere else.
 */
export default async function DevOutboxPage() {
  const { config, provider } = await getContainer();
  if (config.production || !provider.settings.devOutbox) notFound();
  const mails = await readOutbox(outboxDir(config));
  return (
    <main className="mx-auto max-w-3xl px-4 py-10 text-slate-900">
      <h1 className="text-2xl font-semibold tracking-tight">Development outbox</h1>
      <p className="mt-2 text-sm text-slate-600">
        Without <code>SMTP_URL</code>, mails land here (<code>{outboxDir(config)}</code>). Not served in production.
      </p>
      {mails.length === 0 && (
        <p className="mt-6 text-sm text-slate-600" data-testid="outbox-empty">
          No mail yet.
        </p>
      )}
      <ol className="mt-6 space-y-4">
        {mails.map((mail) => (
          <li key={mail.id} className="rounded-md border border-slate-200 bg-white p-4 shadow-sm" data-testid="outbox-mail">
            <p className="text-sm text-slate-500">
              <time dateTime={mail.at}>{mail.at}</time> · to <span data-testid="outbox-to">{mail.to}</span>
            </p>
            <h2 className="mt-1 font-semibold">{mail.subject}</h2>
            <pre className="mt-2 whitespace-pre-wrap break-words font-sans text-sm">
              {mail.text.split(URL_IN_TEXT).map((part, i) =>
                i % 2 === 1 ? (
                  <a key={i} href={part} className="text-brand-700 underline" data-testid="outbox-link">
                    {part}
                  </a>
                ) : (
                  part
                ),
              )}
            </pre>
          </li>
        ))}
      </ol>
    </main>
  );
}
