import type { Metadata } from 'next';
import { CircleCheck, LogOut, UserRound } from 'lucide-react';
import { browserSessionForPage } from '@/lib/http/page-context';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sign out · Identity provider' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

const focus = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';
const primary = `inline-flex w-full items-center justify-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-brand-700 ${focus}`;

export default async function LogoutPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const session = await browserSessionForPage();

  if (first(params.done) === '1' && !session.user) {
    return (
      <section aria-labelledby="logout-title" data-testid="logout-done">
        <CircleCheck aria-hidden className="h-8 w-8 text-emerald-600" />
        <h1 id="logout-title" className="mt-3 text-xl font-semibold tracking-tight">
          You are signed out.
        </h1>
        <p className="mt-2 text-sm text-slate-600">You can close this window, or return to the application you came from.</p>
      </section>
    );
  }

  if (session.user) {
    return (
      <section aria-labelledby="logout-title">
        <LogOut aria-hidden className="h-8 w-8 text-brand-600" />
        <h1 id="logout-title" className="mt-3 text-xl font-semibold tracking-tight">
          Sign out of{' '}
          <span className="break-words" data-testid="logout-user">
            {session.user.email}
          </span>
          ?
        </h1>
        <p className="mt-2 text-sm text-slate-600">
          {session.pendingLogout
            ? 'An application asked to sign you out. This ends your session with this identity provider.'
            : 'This ends your session with this identity provider. Applications will ask you to sign in again.'}
        </p>
        <form method="post" action="/interaction/logout" className="mt-6">
          <input type="hidden" name="csrf" value={session.csrf} />
          <button type="submit" className={primary} data-testid="logout-submit">
            <LogOut aria-hidden className="h-4 w-4" />
            Sign out
          </button>
        </form>
      </section>
    );
  }

  return (
    <section aria-labelledby="logout-title" data-testid="logout-not-signed-in">
      <UserRound aria-hidden className="h-8 w-8 text-slate-400" />
      <h1 id="logout-title" className="mt-3 text-xl font-semibold tracking-tight">
        You are not signed in.
      </h1>
      {session.pendingLogout ? (
        <form method="post" action="/interaction/logout" className="mt-6">
          <input type="hidden" name="csrf" value={session.csrf} />
          <p className="mb-4 text-sm text-slate-600">There is no session to end here.</p>
          <button type="submit" className={primary} data-testid="logout-continue">
            Return to the application
          </button>
        </form>
      ) : (
        <p className="mt-2 text-sm text-slate-600">There is no session to end here.</p>
      )}
    </section>
  );
}
