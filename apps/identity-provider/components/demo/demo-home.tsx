'use client';

import { useEffect, useState } from 'react';
import { CircleAlert, CircleCheck, LogIn } from 'lucide-react';
import { DemoSessionView } from './demo-session';
import { consumeLogoutState, describeError, loadSession, startSignIn, type DemoSession } from './oidc';

const focus = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';

/** /demo: the relying party's start page (and where the provider sends the browser after logout). */
export function DemoHome() {
  const [ready, setReady] = useState(false);
  const [session, setSession] = useState<DemoSession | null>(null);
  const [signedOut, setSignedOut] = useState<'ok' | 'bad_state' | null>(null);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const query = new URLSearchParams(window.location.search);
    const state = query.get('state');
    if (state !== null) {
      // back from RP-initiated logout: the state must be the one this tab sent
      setSignedOut(consumeLogoutState(state) ? 'ok' : 'bad_state');
      window.history.replaceState(null, '', '/demo');
    }
    setSession(loadSession());
    setReady(true);
  }, []);

  const signIn = async () => {
    setBusy(true);
    setError(null);
    try {
      await startSignIn();
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };

  return (
    <div className="space-y-4">
      {signedOut === 'ok' && (
        <p
          role="status"
          data-testid="demo-signed-out"
          className="flex items-center gap-2 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2.5 text-sm text-emerald-900"
        >
          <CircleCheck aria-hidden className="h-4 w-4 shrink-0 text-emerald-600" />
          You have been signed out of the provider, and this application forgot its tokens.
        </p>
      )}
      {signedOut === 'bad_state' && (
        <p
          role="alert"
          data-testid="demo-error"
          className="flex items-center gap-2 rounded-md border border-amber-200 bg-amber-50 px-3 py-2.5 text-sm text-amber-900"
        >
          <CircleAlert aria-hidden className="h-4 w-4 shrink-0" />
          Returned from logout with a state this tab did not send; ignoring it.
        </p>
      )}
      {error && (
        <div role="alert" data-testid="demo-error" className="flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>
            <code className="font-mono font-semibold">{error.code}</code>: {error.message}
          </p>
        </div>
      )}

      {ready && session ? (
        <DemoSessionView initial={session} />
      ) : (
        <section className="rounded-lg border border-slate-200 bg-white p-5 sm:p-6">
          <h2 className="text-base font-semibold">Not signed in</h2>
          <p className="mt-1 text-sm text-slate-600">
            Signing in sends you to the provider with an authorization code request protected by PKCE (S256), state and nonce. Tokens stay in this tab only.
          </p>
          <button
            type="button"
            onClick={signIn}
            disabled={!ready || busy}
            data-testid="demo-signin"
            className={`mt-4 inline-flex items-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-brand-700 disabled:opacity-60 ${focus}`}
          >
            <LogIn aria-hidden className="h-4 w-4" />
            Sign in
          </button>
        </section>
      )}
    </div>
  );
}
