import type { Metadata } from 'next';
import { CircleCheck, LogOut, UserRound } from 'lucide-react';
import { AuthForm, first, SubmitButton, type SearchParams } from '@/components/auth/form';
import { browserSessionForPage } from '@/lib/http/page-context';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sign out · Identity provider' };

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
        <AuthForm action="/interaction/logout" csrf={session.csrf} className="mt-6">
          <SubmitButton testId="logout-submit" icon={LogOut}>
            Sign out
          </SubmitButton>
        </AuthForm>
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
        <AuthForm action="/interaction/logout" csrf={session.csrf} className="mt-6">
          <p className="mb-4 text-sm text-slate-600">There is no session to end here.</p>
          <SubmitButton testId="logout-continue">Return to the application</SubmitButton>
        </AuthForm>
      ) : (
        <p className="mt-2 text-sm text-slate-600">There is no session to end here.</p>
      )}
    </section>
  );
}
