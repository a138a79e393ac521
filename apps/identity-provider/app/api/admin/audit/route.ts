import { auditExport, auditPage, BadQuery, parseAuditQuery } from '@/lib/admin/audit-api';
import { getContainer } from '@/lib/http/next';
import { requireAdmin } from '@/lib/http/admin';

export const dynamic = 'force-dynamic';

/** Admin audit trail: filtered, keyset-paginated JSON; `format=csv|json` streams the whole range. */
export async function GET(request: Request) {
  const { store, provider } = await getContainer();
  const admin = await requireAdmin(request, provider);
  if (!admin.ok) return admin.response;
  let query;
  try {
    query = parseAuditQuery(new URL(request.url).searchParams);
  } catch (error) {
    if (!(error instanceof BadQuery)) throw error;
    return Response.json({ error: 'invalid_request', parameter: error.parameter, message: error.message }, { status: 400 });
  }
  const noStore = { 'Cache-Control': 'no-store' };
  if (query.format) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return new Response(auditExport(store, query, query.format), {
      headers: {
        ...noStore,
        'Content-Type': query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
        'Content-Disposition': `attachment; filename="audit-${stamp}.${query.format}"`,
      },
    });
  }
  return Response.json(await auditPage(store, query), { headers: noStore });
}
