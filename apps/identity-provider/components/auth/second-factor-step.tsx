'use client';

import { useState } from 'react';
import { KeyRound, ShieldCheck } from 'lucide-react';
import { AuthForm, ErrorNotice, Field, secondaryButtonClass, SubmitButton } from './form';
import { signInWithPasskey } from './webauthn-client';

export interface SecondFactorStepProps {
  csrf: string;
  email: string;
  /** Hidden fields that carry the sign-in on (interaction or return_to). */
  hidden: Record<string, string>;
  /** Codes accepted (TOTP or recovery codes); false when only a passkey will do. */
  codes: boolean;
  passkeys: boolean;
  error?: string;
  stepUp: boolean;
}

/**
 * The second step of a sign-in (or a step-up): a passkey, or one code field for the authenticator app's
 * code or a recovery code. The error never says which one was wrong.
 */
export function SecondFactorStep({ csrf, email, hidden, codes, passkeys, error, stepUp }: SecondFactorStepProps) {
  const [passkeyError, setPasskeyError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section aria-labelledby="mfa-title">
      <ShieldCheck aria-hidden className="h-7 w-7 text-brand-600" />
      <h1 id="mfa-title" className="mt-2 text-xl font-semibold tracking-tight">
        {stepUp ? 'Confirm it’s you' : 'Two-step verification'}
      </h1>
      <p className="mt-1 text-sm text-slate-600">
        {codes ? 'Use a passkey or a code' : 'Use one of your passkeys'} to continue as{' '}
        <strong data-testid="mfa-user" className="font-semibold text-slate-900">
          {email}
        </strong>
        .
      </p>
      {(error || passkeyError) && (
        <ErrorNotice testId="mfa-error">
          {passkeyError ?? (error === 'passkey_required' ? 'This application asks for a passkey.' : 'That code is not valid. Try again.')}
        </ErrorNotice>
      )}
      {passkeys && (
        <button
          type="button"
          className={`${secondaryButtonClass} mt-6`}
          disabled={busy}
          data-testid="mfa-passkey"
          onClick={async () => {
            setBusy(true);
            setPasskeyError(null);
            const result = await signInWithPasskey({ csrf, purpose: 'second_factor' });
            if ('redirect' in result) window.location.assign(result.redirect);
            else {
              setPasskeyError(result.error);
              setBusy(false);
            }
          }}
        >
          <KeyRound aria-hidden className="h-4 w-4" />
          Use a passkey
        </button>
      )}
      {codes && (
        <AuthForm action="/interaction/mfa" csrf={csrf} hidden={hidden}>
          <Field
            id="code"
            label="Code from your authenticator app, or a recovery code"
            name="code"
            required
            maxLength={16}
            autoComplete="one-time-code"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus={!passkeys}
            aria-invalid={!!error || undefined}
            inputClassName="tracking-widest"
          />
          <SubmitButton testId="mfa-submit">Verify</SubmitButton>
        </AuthForm>
      )}
    </section>
  );
}
