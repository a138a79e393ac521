import Link from 'next/link';
import { CsrfProvider } from '@/components/admin/actions';
import { AdminNav } from '@/components/admin/nav';
import { adminPage } from '@/lib/admin/page';
import { browserSessionForPage } from '@/lib/http/page-context';

export const dynamic = 'force-dynamic';

/** The admin console inside the dashboard layout: its section navigation, and the CSRF token for changes. */
export default async function AdminLayout({ children }: { children: React.ReactNode }) {
  await adminPage();
  const { csrf } = await browserSessionForPage();
  return (
    <CsrfProvider token={csrf}>
      <div className="mx-auto max-w-7xl px-3 pt-4 sm:px-6">
        <AdminNav />
      </div>
      <main id="admin-main" className="mx-auto max-w-7xl px-3 py-5 sm:px-6 sm:py-6">
        {children}
      </main>
      <footer className="mx-auto max-w-7xl px-3 pb-6 text-xs text-slate-600 sm:px-6">
        Every change here is recorded in the{' '}
        <Link href="/admin/audit?action=admin.*" className="underline">
          audit trail
        </Link>
        .
      </footer>
    </CsrfProvider>
  );
}
