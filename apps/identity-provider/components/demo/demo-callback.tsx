'use client';

import { useEffect, useState } from 'react';
import Link from 'next/link';
import { CircleAlert } from 'lucide-react';
import { DemoSessionView } from './demo-session';
import { completeSignIn, describeError, loadSession, type DemoSession } from './oidc';

/** /demo/callback: checks the authorization response, redeems the code, then shows the result. */
export function DemoCallback() {
  const [session, setSession] = useState<DemoSession | null>(null);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  useEffect(() => {
    const query = new URLSearchParams(window.location.search);
    if (!query.has('code') && !query.has('error')) {
      // reloaded after the exchange: show what this tab already has
      const existing = loadSession();
      if (existing) setSession(existing);
      else setError({ code: 'no_response', message: 'Nothing to complete here. Start from the demo page.' });
      return;
    }
    let cancelled = false;
    completeSignIn(query)
      .then((result) => {
        // the code is spent: keep it out of the history and out of any later Referer
        window.history.replaceState(null, '', '/demo/callback');
        if (!cancelled) setSession(result);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, []);

  if (error) {
    return (
      <div role="alert" data-testid="demo-error" className="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800">
        <p className="flex items-center gap-2 font-semibold">
          <CircleAlert aria-hidden className="h-4 w-4 shrink-0" />
          Sign-in failed: <code className="font-mono">{error.code}</code>
        </p>
        <p className="mt-1">{error.message}</p>
        <Link
          href="/demo"
          className="mt-3 inline-block font-semibold text-brand-700 underline focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"
        >
          Back to the demo
        </Link>
      </div>
    );
  }
  if (!session) {
    return (
      <p role="status" data-testid="demo-completing" className="text-sm text-slate-600">
        Completing sign-in…
      </p>
    );
  }
  return <DemoSessionView initial={session} />;
}
