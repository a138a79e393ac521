import Link from 'next/link';
import { LogOut, ShieldAlert } from 'lucide-react';

/** Rendered, with HTTP status 403, when a page calls forbidden(): a signed-in user without the admin role. */
export default function Forbidden() {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center px-4 py-10">
      <main
        className="w-full max-w-md rounded-xl border border-slate-200 bg-white px-6 py-8 shadow-sm"
        aria-labelledby="forbidden-title"
        data-testid="forbidden"
      >
        <ShieldAlert aria-hidden className="h-8 w-8 text-red-600" />
        <p className="mt-3 text-sm font-semibold text-red-700">403 Forbidden</p>
        <h1 id="forbidden-title" className="mt-1 text-xl font-semibold tracking-tight">
          You need administrator access
        </h1>
        <p className="mt-2 text-sm text-slate-600">
          You are signed in, but your account does not have the administrator role. Ask an administrator to grant it, or sign in with another account.
        </p>
        <Link
          href="/logout"
          className="mt-5 -ml-2 inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"
        >
          <LogOut aria-hidden className="h-4 w-4" />
          Sign out
        </Link>
      </main>
    </div>
  );
}
