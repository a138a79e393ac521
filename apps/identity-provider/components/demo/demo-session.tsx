'use client';

import { useEffect, useState } from 'react';
import { BadgeCheck, CircleAlert, LogOut, RefreshCw } from 'lucide-react';
import { describeError, fetchUserinfo, refreshSession, startLogout, type DemoSession } from './oidc';

const focus = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';
const button = `inline-flex items-center justify-center gap-2 rounded-md px-4 py-2 text-sm font-semibold shadow-sm disabled:cursor-not-allowed disabled:opacity-60 ${focus}`;

const tail = (token: string) => `…${token.slice(-12)}`;
const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const epoch = (value: unknown) => (typeof value === 'number' ? new Date(value * 1000).toISOString() : undefined);

function Json({ value, testId, label }: { value: unknown; testId: string; label: string }) {
  return (
    <pre
      aria-label={label}
      tabIndex={0}
      data-testid={testId}
      className={`mt-2 max-h-96 overflow-auto rounded-md bg-slate-900 p-3 text-xs leading-relaxed text-slate-100 ${focus}`}
    >
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

function Panel({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4 sm:p-5">
      <h2 className="text-sm font-semibold text-slate-800">{title}</h2>
      {children}
    </section>
  );
}

/** The relying party's view of a signed-in user: verified ID token, UserInfo, refresh and logout. */
export function DemoSessionView({ initial }: { initial: DemoSession }) {
  const [session, setSession] = useState(initial);
  const [userinfo, setUserinfo] = useState<Record<string, unknown> | null>(null);
  const [busy, setBusy] = useState<'refresh' | 'logout' | null>(null);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  useEffect(() => {
    let cancelled = false;
    setUserinfo(null);
    fetchUserinfo(session.accessToken)
      .then((claims) => !cancelled && setUserinfo(claims))
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [session.accessToken]);

  const refresh = async () => {
    setBusy('refresh');
    setError(null);
    try {
      setSession(await refreshSession(session));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(null);
    }
  };

  const logout = async () => {
    setBusy('logout');
    setError(null);
    try {
      await startLogout(session);
    } catch (e) {
      setError(describeError(e));
      setBusy(null);
    }
  };

  const { header, claims } = session.idTokenVerified;
  const who = (typeof claims.email === 'string' && claims.email) || (userinfo?.email as string | undefined) || String(claims.sub);

  return (
    <div className="space-y-4" data-testid="demo-session">
      <div className="flex flex-col gap-3 rounded-lg border border-emerald-200 bg-emerald-50 p-4 sm:flex-row sm:items-center sm:justify-between">
        <div className="flex items-start gap-2 text-sm text-emerald-900">
          <BadgeCheck aria-hidden className="mt-0.5 h-5 w-5 shrink-0 text-emerald-600" />
          <p data-testid="demo-verified">
            Signed in as <strong className="break-all">{who}</strong>. The ID token was verified in this browser with <code className="font-mono">jose</code>:
            signature against the provider&apos;s JWKS, issuer, audience, expiry, nonce and at_hash.
          </p>
        </div>
        <div className="flex shrink-0 gap-2">
          <button
            type="button"
            onClick={refresh}
            disabled={busy !== null || !session.refreshToken}
            data-testid="demo-refresh"
            className={`${button} border border-slate-300 bg-white text-slate-700 hover:bg-slate-50`}
          >
            <RefreshCw aria-hidden className={`h-4 w-4 ${busy === 'refresh' ? 'animate-spin' : ''}`} />
            Refresh tokens
          </button>
          <button
            type="button"
            onClick={logout}
            disabled={busy !== null}
            data-testid="demo-logout"
            className={`${button} bg-brand-600 text-white hover:bg-brand-700`}
          >
            <LogOut aria-hidden className="h-4 w-4" />
            Log out
          </button>
        </div>
      </div>

      {error && (
        <div role="alert" data-testid="demo-error" className="flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>
            <code className="font-mono font-semibold">{error.code}</code>: {error.message}
          </p>
        </div>
      )}

      <Panel title="Tokens">
        <dl className="mt-3 grid grid-cols-1 gap-x-4 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="text-slate-500">Access token</dt>
          <dd className="break-all font-mono" data-testid="demo-access-token">
            {tail(session.accessToken)}
          </dd>
          <dt className="text-slate-500">Access token expires</dt>
          <dd data-testid="demo-access-expiry" data-expires-at={session.accessTokenExpiresAt}>
            {clock(session.accessTokenExpiresAt)} (in {Math.max(0, Math.round((session.accessTokenExpiresAt - Date.now()) / 60000))} min)
          </dd>
          <dt className="text-slate-500">Refresh token</dt>
          <dd className="break-all font-mono" data-testid="demo-refresh-token">
            {session.refreshToken ? tail(session.refreshToken) : 'none issued'}
          </dd>
          <dt className="text-slate-500">Scope</dt>
          <dd className="font-mono" data-testid="demo-scope">
            {session.scope}
          </dd>
        </dl>
        {session.lastRefresh && (
          <p role="status" data-testid="demo-refresh-result" className="mt-3 rounded-md bg-brand-50 px-3 py-2 text-sm text-brand-900">
            Refreshed at {clock(session.lastRefresh.at)}: new access token expires at {clock(session.accessTokenExpiresAt)} (was{' '}
            {clock(session.lastRefresh.previousAccessTokenExpiresAt)}). Refresh token rotated:{' '}
            <strong data-testid="demo-refresh-changed">{session.lastRefresh.refreshTokenChanged ? 'yes' : 'no'}</strong>.
          </p>
        )}
      </Panel>

      <div className="grid gap-4 lg:grid-cols-2">
        <Panel title="ID token">
          <p className="mt-1 text-xs text-slate-500">
            Subject{' '}
            <code className="font-mono" data-testid="demo-sub">
              {String(claims.sub)}
            </code>
            , authenticated at {epoch(claims.auth_time) ?? 'unknown'}
          </p>
          <h3 className="mt-3 text-xs font-medium uppercase tracking-wide text-slate-500">Header</h3>
          <Json value={header} testId="demo-id-token-header" label="ID token header" />
          <h3 className="mt-3 text-xs font-medium uppercase tracking-wide text-slate-500">Claims</h3>
          <Json value={claims} testId="demo-id-token-claims" label="ID token claims" />
        </Panel>
        <Panel title="UserInfo response">
          {userinfo ? (
            <>
              <p className="mt-1 text-xs text-slate-500">
                GET /oidc/userinfo with the access token: email <span data-testid="demo-userinfo-email">{String(userinfo.email ?? '(not released)')}</span>
              </p>
              <Json value={userinfo} testId="demo-userinfo" label="UserInfo response" />
            </>
          ) : (
            <p className="mt-2 text-sm text-slate-500">Loading…</p>
          )}
        </Panel>
      </div>
    </div>
  );
}
