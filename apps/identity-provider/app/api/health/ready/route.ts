import { getContainer } from '@/lib/container';
import { checkReadiness } from '@/lib/observability/readiness';

export const dynamic = 'force-dynamic';

/**
 * Readiness: 200 when the database answers, the audit writer reaches it and the data directory has
 * room; 503 otherwise. Numbers and states only, no secrets (see lib/observability/readiness.ts).
 */
export async function GET() {
  const { store, audit, config, log } = await getContainer();
  const report = await checkReadiness({
    db: store.db,
    auditStats: () => audit.stats(),
    dataDir: config.dataDir,
    onError: (check, error) => log.warn('readiness check failed', { check, error }),
  });
  return Response.json(report, { status: report.status === 'ready' ? 200 : 503, headers: { 'Cache-Control': 'no-store' } });
}
