import { getContainer } from '@/lib/http/next';
import { requireAdmin } from '@/lib/http/admin';
import { InvalidParameter, invalidRequest, parseDashboardQuery } from '@/lib/analytics/query';
import { activityJson, isUnknownZoneError, NO_STORE } from '@/lib/analytics/respond';
import type { TokenAnalyticsResponse } from '@/lib/analytics/types';

export const dynamic = 'force-dynamic';

/**
 * Token analytics for the admin dashboard: totals, series, per-client and per-user rankings, peak usage,
 * lifetimes, rates and the first page of recent activity, in one response. Admins only (401/403).
 * Query: range=24h|7d|30d|90d|custom (start, end: RFC 3339), client_id, user_id, audience (`default` or the API's
 * resource identifier(s), space-separated), tz (IANA), bucket, top.
 */
export async function GET(request: Request): Promise<Response> {
  const { provider, store } = await getContainer();
  const admin = await requireAdmin(request, provider);
  if (!admin.ok) return admin.response;
  let q;
  try {
    q = parseDashboardQuery(new URL(request.url).searchParams);
  } catch (error) {
    if (error instanceof InvalidParameter) return invalidRequest(error);
    throw error;
  }
  try {
    const filters = { clientId: q.clientId, userId: q.userId, audience: q.audience };
    const [dashboard, activity] = await Promise.all([
      store.analytics.dashboard({ start: q.range.start, end: q.range.end, ...filters, timeZone: q.tz, bucket: q.bucket ?? undefined, top: q.top }),
      store.analytics.activity({ start: q.range.start, end: q.range.end, ...filters, limit: q.activityLimit }),
    ]);
    const body: TokenAnalyticsResponse = {
      ...dashboard,
      range: { ...dashboard.range, preset: q.range.preset },
      activity: activityJson(activity),
      generated_at: new Date().toISOString(),
    };
    return Response.json(body, { headers: NO_STORE });
  } catch (error) {
    if (isUnknownZoneError(error)) return invalidRequest(new InvalidParameter('tz', 'is not a time zone the database knows'));
    throw error;
  }
}
