import type { Metadata } from 'next';
import { CircleAlert, CircleCheck, KeyRound } from 'lucide-react';
import { alertBox, first, input, label, link, okBox, primary, type SearchParams } from '@/components/recovery/styles';
import { getContainer } from '@/lib/http/next';
import { browserForPage } from '@/lib/http/page-context';
import { checkPasswordResetToken, requireSecondFactorForReset } from '@/lib/recovery/account-recovery';
import { MAX_PASSWORD_CHARACTERS } from '@/lib/security/password-policy';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Choose a new password · Identity provider' };

const ERRORS: Record<string, string> = {
  mismatch: 'The two passwords do not match. Type the same new password twice.',
  weak: 'This password is too easy to guess (it is common, or made of your name or address). A few unrelated words make a strong, memorable password.',
  second_factor: 'The code from your authenticator app (or a recovery code) is missing or wrong.',
};

export default async function ResetPasswordPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { provider } = await getContainer();
  const minLength = provider.settings.passwordMinLength;
  const error = first(params.error);
  if (first(params.done) === '1') {
    return (
      <section aria-labelledby="reset-title">
        <h1 id="reset-title" className="text-xl font-semibold tracking-tight">
          Password changed
        </h1>
        <div role="status" data-testid="reset-done" className={okBox}>
          <CircleCheck aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>Your new password is set. You were signed out everywhere: sign in again with the new password.</p>
        </div>
      </section>
    );
  }
  const browser = await browserForPage();
  const token = browser.recovery?.reset;
  const check = token && error !== 'invalid_link' ? await checkPasswordResetToken(provider, token) : null;
  if (!check || check.status !== 'valid') {
    return (
      <section aria-labelledby="reset-title" data-testid="reset-invalid">
        <h1 id="reset-title" className="text-xl font-semibold tracking-tight">
          This link no longer works
        </h1>
        <p className="mt-2 text-sm text-slate-600">Reset links work once, for a short time, and only until the password changes. Ask for a new one.</p>
        <p className="mt-4 text-sm">
          <a href="/forgot-password" className={link}>
            Send me a new link
          </a>
        </p>
      </section>
    );
  }
  const factor = await requireSecondFactorForReset(provider, check.userId);
  const message = error === 'length' ? `Use at least ${minLength} and at most ${MAX_PASSWORD_CHARACTERS} characters.` : error ? ERRORS[error] : undefined;
  return (
    <section aria-labelledby="reset-title">
      <KeyRound aria-hidden className="h-8 w-8 text-brand-600" />
      <h1 id="reset-title" className="mt-3 text-xl font-semibold tracking-tight">
        Choose a new password
      </h1>
      <p className="mt-2 text-sm text-slate-600">
        For{' '}
        <strong className="font-semibold text-slate-900 break-words" data-testid="reset-user">
          {check.email}
        </strong>
        . Every device signed in to this account will be signed out.
      </p>
      {message && (
        <div role="alert" data-testid="reset-error" data-error={error} className={alertBox}>
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>{message}</p>
        </div>
      )}
      <form method="post" action="/interaction/reset-password" className="mt-6 space-y-4">
        <input type="hidden" name="csrf" value={browser.csrf} />
        <input type="email" name="username" autoComplete="username" value={check.email} readOnly hidden />
        <div>
          <label htmlFor="new_password" className={label}>
            New password
          </label>
          <input
            id="new_password"
            name="new_password"
            type="password"
            autoComplete="new-password"
            required
            minLength={minLength}
            maxLength={MAX_PASSWORD_CHARACTERS}
            autoFocus
            aria-describedby="new_password_hint"
            className={input}
          />
          <p id="new_password_hint" className="mt-1 text-xs text-slate-500">
            At least {minLength} characters. A few unrelated words make a strong, memorable password.
          </p>
        </div>
        <div>
          <label htmlFor="confirm_password" className={label}>
            Confirm new password
          </label>
          <input
            id="confirm_password"
            name="confirm_password"
            type="password"
            autoComplete="new-password"
            required
            minLength={minLength}
            maxLength={MAX_PASSWORD_CHARACTERS}
            className={input}
          />
        </div>
        {factor.required && (
          <div>
            <label htmlFor="second_factor" className={label}>
              Code from your authenticator app, or a recovery code
            </label>
            <input
              id="second_factor"
              name="second_factor"
              type="text"
              autoComplete="one-time-code"
              inputMode="text"
              required
              maxLength={64}
              className={input}
            />
          </div>
        )}
        <button type="submit" className={primary} data-testid="reset-submit">
          Set new password
        </button>
      </form>
    </section>
  );
}
