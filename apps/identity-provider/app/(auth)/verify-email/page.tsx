import type { Metadata } from 'next';
import { MailCheck } from 'lucide-react';
import { AuthForm, first, linkClass, StatusNotice, SubmitButton, type SearchParams } from '@/components/auth/form';
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
        <StatusNotice testId="verify-done">Thank you: your e-mail address is confirmed.</StatusNotice>
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
          <a href="/" className={linkClass}>
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
      <AuthForm action="/interaction/verify-email" csrf={browser.csrf} className="mt-6">
        <SubmitButton testId="verify-submit">Confirm my address</SubmitButton>
      </AuthForm>
    </section>
  );
}
