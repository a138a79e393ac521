import type { Metadata } from 'next';
import Link from 'next/link';
import { redirect } from 'next/navigation';
import { LayoutDashboard, LogOut, ShieldCheck, UserRound } from 'lucide-react';
import { AccountPage } from '@/components/account/account-page';
import { SignInRedirect } from '@/components/analytics/sign-in-redirect';
import { accountForPage } from '@/lib/account/page';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Your account · Identity provider' };

const link =
  'inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 ' +
  'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';

/**
 * The signed-in user's own account: profile, password, sign-in methods, sessions, connected apps and
 * security activity. Without a session the browser signs in first and comes back here; a forced
 * password change comes first. The sections load from /api/account/* in the browser.
 */
export default async function AccountRoute() {
  const account = await accountForPage();
  if (account.status === 'unauthenticated') return <SignInRedirect />;
  if (account.status === 'must_change_password') redirect('/password?return_to=%2Faccount');
  const { user, csrf } = account;
  return (
    <>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-x-4 gap-y-2 px-4 py-3 sm:px-6">
          <Link
            href="/"
            className="flex items-center gap-2 rounded-md text-slate-800 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"
          >
            <ShieldCheck aria-hidden className="h-6 w-6 text-brand-600" />
            <span className="text-sm font-semibold tracking-tight">Identity provider · Account</span>
          </Link>
          <nav aria-label="Account" className="flex flex-wrap items-center gap-2">
            {user.isAdmin && (
              <Link href="/admin" prefetch={false} className={link}>
                <LayoutDashboard aria-hidden className="h-4 w-4" />
                Admin console
              </Link>
            )}
            <span className="hidden items-center gap-1 text-sm text-slate-500 sm:inline-flex" data-testid="account-email">
              <UserRound aria-hidden className="h-4 w-4" />
              {user.email}
            </span>
            <Link href="/logout" className={link}>
              <LogOut aria-hidden className="h-4 w-4" />
              Sign out
            </Link>
          </nav>
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-3 py-5 sm:px-6 sm:py-8">
        <div className="mb-5">
          <h1 className="text-2xl font-semibold tracking-tight">Your account</h1>
          <p className="text-sm text-slate-600">Your profile, how you sign in, where you are signed in and which apps can act for you.</p>
        </div>
        <AccountPage csrf={csrf} email={user.email} initialName={user.name} />
      </main>
    </>
  );
}
