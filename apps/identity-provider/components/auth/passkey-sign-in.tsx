'use client';

import { useEffect, useState } from 'react';
import { KeyRound } from 'lucide-react';
import { secondaryButtonClass } from './form';
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, signInWithPasskey } from './webauthn-client';

/**
 * Passwordless sign-in on the login page: the passkeys of the browser's autofill list on the email field
 * (conditional mediation, where the browser offers it) and a "Sign in with a passkey" button.
 */
export function PasskeySignIn({ csrf, interaction, returnTo }: { csrf: string; interaction?: string; returnTo?: string }) {
  const [supported, setSupported] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setSupported(browserSupportsWebAuthn());
    let cancelled = false;
    void (async () => {
      if (!(await browserSupportsWebAuthnAutofill())) return;
      const result = await signInWithPasskey({ csrf, purpose: 'passwordless', interaction, returnTo, autofill: true });
      if (cancelled) return;
      if ('redirect' in result) window.location.assign(result.redirect);
    })();
    return () => {
      cancelled = true;
    };
  }, [csrf, interaction, returnTo]);

  if (!supported) return null;
  return (
    <div className="mt-4">
      <div className="my-4 flex items-center gap-3 text-xs text-slate-500" aria-hidden>
        <span className="h-px flex-1 bg-slate-200" /> or <span className="h-px flex-1 bg-slate-200" />
      </div>
      <button
        type="button"
        className={secondaryButtonClass}
        disabled={busy}
        data-testid="passkey-signin"
        onClick={async () => {
          setBusy(true);
          setError(null);
          const result = await signInWithPasskey({ csrf, purpose: 'passwordless', interaction, returnTo });
          if ('redirect' in result) window.location.assign(result.redirect);
          else {
            setError(result.error);
            setBusy(false);
          }
        }}
      >
        <KeyRound aria-hidden className="h-4 w-4" />
        Sign in with a passkey
      </button>
      {error && (
        <p role="alert" data-testid="passkey-error" className="mt-2 text-sm text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}
