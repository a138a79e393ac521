import type { Metadata } from 'next';
import { Suspense } from 'react';
import { BarChart3 } from 'lucide-react';
import { DashboardSkeleton, TokenDashboard } from '@/components/analytics/dashboard';
import { getContainer } from '@/lib/http/next';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Token analytics · Identity provider' };

/**
 * Token analytics for administrators (the layout checks the role). The filters live in the URL; the data
 * comes from /api/analytics/tokens in the browser, so the page can refresh itself.
 */
export default async function TokenAnalyticsPage() {
  const { store } = await getContainer();
  const clients = (await store.clients.list()).map((c) => ({ id: c.clientId, name: c.name })).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <main className="mx-auto max-w-7xl px-3 py-5 sm:px-6 sm:py-8">
      <div className="mb-4 flex items-center gap-2">
        <BarChart3 aria-hidden className="h-6 w-6 text-brand-600" />
        <h1 className="text-2xl font-semibold tracking-tight">Token analytics</h1>
      </div>
      <Suspense fallback={<DashboardSkeleton />}>
        <TokenDashboard clients={clients} />
      </Suspense>
    </main>
  );
}
