import { getContainer } from '@/lib/http/next';
import { CLIENT_IP_HEADER } from '@/lib/http/edge';
import { metricsAuthorized } from '@/lib/observability/metrics-endpoint';
import { checkReadiness, redactReadiness } from '@/lib/observability/readiness';

export const dynamic = 'force-dynamic';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * Readiness: 200 when the database answers, the audit writer reaches it, the data directory has room and
 * tokens can be issued; 503 otherwise. Numbers and states only, no secrets (see lib/observability/readiness.ts).
 * Pool sizes, disk bytes and the database kind only for callers with the metrics credentials (or, when none
 * are configured, from loopback).
 */
export async function GET(request: Request) {
  const { store, audit, config, log, issuance, maintenance } = await getContainer();
  const report = await checkReadiness({
    db: store.db,
    auditStats: () => audit.stats(),
    dataDir: config.dataDir,
    issuance,
    maintenance,
    onError: (check, error) => log.warn('readiness check failed', { check, error }),
  });
  const protectedMetrics = !!(config.metrics.token || config.metrics.basicAuth);
  const detailed = protectedMetrics
    ? metricsAuthorized(request.headers.get('authorization') ?? undefined, config.metrics)
    : LOOPBACK.test(request.headers.get(CLIENT_IP_HEADER) ?? '');
  return Response.json(detailed ? report : redactReadiness(report), {
    status: report.status === 'ready' ? 200 : 503,
    headers: { 'Cache-Control': 'no-store' },
  });
}
