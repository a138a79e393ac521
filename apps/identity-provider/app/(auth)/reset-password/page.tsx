import type { Metadata } from 'next';
import { KeyRound } from 'lucide-react';
import {
  AuthForm,
  ErrorNotice,
  Field,
  first,
  linkClass,
  PasswordField,
  StatusNotice,
  SubmitButton,
  UsernameHint,
  type SearchParams,
} from '@/components/auth/form';
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
        <StatusNotice testId="reset-done">Your new password is set. You were signed out everywhere: sign in again with the new password.</StatusNotice>
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
          <a href="/forgot-password" className={linkClass}>
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
        <ErrorNotice testId="reset-error" error={error}>
          {message}
        </ErrorNotice>
      )}
      <AuthForm action="/interaction/reset-password" csrf={browser.csrf}>
        <UsernameHint email={check.email} />
        <PasswordField
          id="new_password"
          label="New password"
          name="new_password"
          autoComplete="new-password"
          minLength={minLength}
          autoFocus
          hint={`At least ${minLength} characters. A few unrelated words make a strong, memorable password.`}
        />
        <PasswordField id="confirm_password" label="Confirm new password" name="confirm_password" autoComplete="new-password" minLength={minLength} />
        {factor.required && (
          <Field
            id="second_factor"
            label="Code from your authenticator app, or a recovery code"
            name="second_factor"
            type="text"
            autoComplete="one-time-code"
            inputMode="text"
            required
            maxLength={64}
          />
        )}
        <SubmitButton testId="reset-submit">Set new password</SubmitButton>
      </AuthForm>
    </section>
  );
}
