'use client';

import { useState } from 'react';
import { CircleAlert, KeyRound, ShieldCheck } from 'lucide-react';
import { signInWithPasskey } from './webauthn-client';

const input =
  'mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-base tracking-widest text-slate-900 shadow-sm placeholder:text-slate-400 ' +
  'focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1 sm:text-sm';
const primary =
  'inline-flex w-full items-center justify-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm ' +
  'hover:bg-brand-700 disabled:opacity-60 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';
const secondary =
  'inline-flex w-full items-center justify-center gap-2 rounded-md border border-slate-300 bg-white px-4 py-2.5 text-sm font-semibold text-slate-800 shadow-sm ' +
  'hover:bg-slate-50 disabled:opacity-60 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';

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
        <div role="alert" data-testid="mfa-error" className="mt-5 flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>{passkeyError ?? (error === 'passkey_required' ? 'This application asks for a passkey.' : 'That code is not valid. Try again.')}</p>
        </div>
      )}
      {passkeys && (
        <button
          type="button"
          className={`${secondary} mt-6`}
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
        <form method="post" action="/interaction/mfa" className="mt-6 space-y-4">
          {Object.entries(hidden).map(([name, value]) => (
            <input key={name} type="hidden" name={name} value={value} />
          ))}
          <input type="hidden" name="csrf" value={csrf} />
          <div>
            <label htmlFor="code" className="block text-sm font-medium text-slate-700">
              Code from your authenticator app, or a recovery code
            </label>
            <input
              id="code"
              name="code"
              required
              maxLength={16}
              autoComplete="one-time-code"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus={!passkeys}
              aria-invalid={!!error || undefined}
              className={input}
            />
          </div>
          <button type="submit" className={primary} data-testid="mfa-submit">
            Verify
          </button>
        </form>
      )}
    </section>
  );
}
