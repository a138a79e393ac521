import { getContainer } from '@/lib/http/next';
import { requireAdmin } from '@/lib/http/admin';
import { InvalidParameter, invalidRequest, parseActivityQuery } from '@/lib/analytics/query';
import { activityJson, NO_STORE } from '@/lib/analytics/respond';
import type { TokenActivityResponse } from '@/lib/analytics/types';

export const dynamic = 'force-dynamic';

/**
 * Recent token activity, newest first, keyset-paginated on (created_at, id): pass `next_cursor` back as
 * `cursor`. Query: range (as /api/analytics/tokens), client_id, user_id, audience, limit (1-200), cursor. Admins only.
 */
export async function GET(request: Request): Promise<Response> {
  const { provider, store } = await getContainer();
  const admin = await requireAdmin(request, provider);
  if (!admin.ok) return admin.response;
  let q;
  try {
    q = parseActivityQuery(new URL(request.url).searchParams);
  } catch (error) {
    if (error instanceof InvalidParameter) return invalidRequest(error);
    throw error;
  }
  const page = await store.analytics.activity({
    start: q.range.start,
    end: q.range.end,
    clientId: q.clientId,
    userId: q.userId,
    audience: q.audience,
    cursor: q.cursor,
    limit: q.limit,
  });
  const body: TokenActivityResponse = activityJson(page);
  return Response.json(body, { headers: NO_STORE });
}
