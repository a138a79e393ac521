import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { BarChart3, LayoutDashboard, LogOut, ShieldCheck } from 'lucide-react';
import { SignInRedirect } from '@/components/analytics/sign-in-redirect';
import { adminForPage } from '@/lib/analytics/page-auth';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { robots: { index: false, follow: false }, referrer: 'same-origin' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

const link =
  'inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 ' +
  'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';

/**
 * Admin pages: signed-in administrators only. Without a session the browser goes to the sign-in page and
 * comes back to the page it asked for; a signed-in user without the admin role gets the 403 page with status 403
 * (the admin APIs answer 403 too).
 */
export default async function DashboardLayout({ children }: { children: React.ReactNode }) {
  const admin = await adminForPage();
  if (admin.status === 'unauthenticated') return <SignInRedirect />;
  // app/forbidden.tsx renders the page, with HTTP status 403
  if (admin.status === 'forbidden') forbidden();
  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center justify-between gap-x-4 gap-y-2 px-4 py-3 sm:px-6">
          <div className="flex items-center gap-2 text-slate-800">
            <ShieldCheck aria-hidden className="h-6 w-6 text-brand-600" />
            <span className="text-sm font-semibold tracking-tight">Identity provider · Admin</span>
          </div>
          <nav aria-label="Admin" className="flex flex-wrap items-center gap-2">
            <Link href="/admin" className={link}>
              <LayoutDashboard aria-hidden className="h-4 w-4" />
              Admin console
            </Link>
            <Link href="/analytics/tokens" className={link}>
              <BarChart3 aria-hidden className="h-4 w-4" />
              Token analytics
            </Link>
            <span className="hidden text-sm text-slate-500 sm:inline" data-testid="admin-email">
              {admin.email}
            </span>
            <Link href="/logout" className={link}>
              <LogOut aria-hidden className="h-4 w-4" />
              Sign out
            </Link>
          </nav>
        </div>
      </header>
      {children}
    </div>
  );
}
