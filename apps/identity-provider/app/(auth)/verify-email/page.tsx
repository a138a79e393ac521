import type { Metadata } from 'next';
import { CircleCheck, MailCheck } from 'lucide-react';
import { first, link, okBox, primary, type SearchParams } from '@/components/recovery/styles';
import { browserForPage } from '@/lib/http/page-context';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Confirm your e-mail address · Identity provider' };

export default async function VerifyEmailPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  if (first(params.done) === '1') {
    return (
      <section aria-labelledby="verify-title">
        <h1 id="verify-title" className="text-xl font-semibold tracking-tight">
          Address confirmed
        </h1>
        <div role="status" data-testid="verify-done" className={okBox}>
          <CircleCheck aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>Thank you: your e-mail address is confirmed.</p>
        </div>
      </section>
    );
  }
  const browser = await browserForPage();
  if (!browser.recovery?.verify || first(params.error) === 'invalid_link') {
    return (
      <section aria-labelledby="verify-title" data-testid="verify-invalid">
        <h1 id="verify-title" className="text-xl font-semibold tracking-tight">
          This link no longer works
        </h1>
        <p className="mt-2 text-sm text-slate-600">
          Confirmation links work once, for a limited time, and only for the address they were sent to. Ask for a new one from your account, or ask an
          administrator.
        </p>
        <p className="mt-4 text-sm">
          <a href="/" className={link}>
            Home
          </a>
        </p>
      </section>
    );
  }
  return (
    <section aria-labelledby="verify-title">
      <MailCheck aria-hidden className="h-8 w-8 text-brand-600" />
      <h1 id="verify-title" className="mt-3 text-xl font-semibold tracking-tight">
        Confirm your e-mail address
      </h1>
      <p className="mt-2 text-sm text-slate-600">Press the button to confirm that this address belongs to you.</p>
      <form method="post" action="/interaction/verify-email" className="mt-6">
        <input type="hidden" name="csrf" value={browser.csrf} />
        <button type="submit" className={primary} data-testid="verify-submit">
          Confirm my address
        </button>
      </form>
    </section>
  );
}
