import { auditExport, auditPage } from '@/lib/admin/audit-api';
import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Admin audit trail: filtered, keyset-paginated JSON; `format=csv|json` streams the whole range. */
export const GET = adminRoute(ADMIN_OPERATIONS.audit, async ({ container: { store }, input: query }) => {
  if (!query.format) return auditPage(store, query);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return new Response(auditExport(store, query, query.format), {
    headers: {
      'Cache-Control': 'no-store',
      'Content-Type': query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="audit-${stamp}.${query.format}"`,
    },
  });
});
