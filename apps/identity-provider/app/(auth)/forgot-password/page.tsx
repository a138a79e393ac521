import type { Metadata } from 'next';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { CircleAlert, MailCheck, Send } from 'lucide-react';
import { alertBox, first, input, label, link, okBox, primary, type SearchParams } from '@/components/recovery/styles';
import { getContainer } from '@/lib/http/next';
import { browserForPage } from '@/lib/http/page-context';
import { sessionCookieName } from '@/lib/oidc/session';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Reset your password · Identity provider' };

export default async function ForgotPasswordPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { settings } = (await getContainer()).provider;
  // the form's CSRF token must come from a sealed cookie the browser holds
  if (!(await cookies()).has(sessionCookieName(settings))) redirect('/interaction/forgot-password');
  const { csrf } = await browserForPage();
  const sent = first(params.sent) === '1';
  const error = first(params.error);

  return (
    <section aria-labelledby="forgot-title">
      <h1 id="forgot-title" className="text-xl font-semibold tracking-tight">
        Reset your password
      </h1>
      {sent ? (
        <div role="status" data-testid="reset-requested" className={okBox}>
          <MailCheck aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>
            If an account uses that address, we have sent it a link to choose a new password. The link works once and expires soon. Check your spam folder if
            nothing arrives.
          </p>
        </div>
      ) : (
        <p className="mt-1 text-sm text-slate-600">Enter the e-mail address of your account. We will send you a link to choose a new password.</p>
      )}
      {error === 'email' && (
        <div role="alert" data-testid="forgot-error" className={alertBox}>
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>Enter an e-mail address such as name@example.com.</p>
        </div>
      )}
      <form method="post" action="/interaction/forgot-password" className="mt-6 space-y-4">
        <input type="hidden" name="csrf" value={csrf} />
        <div>
          <label htmlFor="email" className={label}>
            Email
          </label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="username"
            inputMode="email"
            autoCapitalize="none"
            spellCheck={false}
            required
            maxLength={320}
            autoFocus
            className={input}
          />
        </div>
        <button type="submit" className={primary} data-testid="forgot-submit">
          <Send aria-hidden className="h-4 w-4" />
          Send reset link
        </button>
      </form>
      <p className="mt-4 text-center text-sm">
        <a href="/interaction/start?return_to=/" className={link}>
          Back to sign in
        </a>
      </p>
    </section>
  );
}
