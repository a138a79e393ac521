import type { Metadata } from 'next';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { MailCheck, Send } from 'lucide-react';
import { AuthForm, ErrorNotice, Field, first, linkClass, StatusNotice, SubmitButton, type SearchParams } from '@/components/auth/form';
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
        <StatusNotice testId="reset-requested" icon={MailCheck}>
          If an account uses that address, we have sent it a link to choose a new password. The link works once and expires soon. Check your spam folder if
          nothing arrives.
        </StatusNotice>
      ) : (
        <p className="mt-1 text-sm text-slate-600">Enter the e-mail address of your account. We will send you a link to choose a new password.</p>
      )}
      {error === 'email' && <ErrorNotice testId="forgot-error">Enter an e-mail address such as name@example.com.</ErrorNotice>}
      <AuthForm action="/interaction/forgot-password" csrf={csrf}>
        <Field
          id="email"
          label="Email"
          name="email"
          type="email"
          autoComplete="username"
          inputMode="email"
          autoCapitalize="none"
          spellCheck={false}
          required
          maxLength={320}
          autoFocus
        />
        <SubmitButton testId="forgot-submit" icon={Send}>
          Send reset link
        </SubmitButton>
      </AuthForm>
      <p className="mt-4 text-center text-sm">
        <a href="/interaction/start?return_to=/" className={linkClass}>
          Back to sign in
        </a>
      </p>
    </section>
  );
}
