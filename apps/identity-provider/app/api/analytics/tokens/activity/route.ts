import { adminRoute } from '@/lib/admin/route';
import { activityQuery } from '@/lib/analytics/query';
import { activityJson } from '@/lib/analytics/respond';
import { tokenActivityOutput } from '@/lib/analytics/types';

export const dynamic = 'force-dynamic';

/**
 * Recent token activity, newest first, keyset-paginated on (created_at, id): pass `next_cursor` back as
 * `cursor`. Query: range (as /api/analytics/tokens), client_id, user_id, audience, limit (1-200), cursor. Admins only.
 */
export const GET = adminRoute({ input: activityQuery(), output: tokenActivityOutput }, async ({ container: { store }, input: q }) =>
  activityJson(
    await store.analytics.activity({
      start: q.range.start,
      end: q.range.end,
      clientId: q.clientId,
      userId: q.userId,
      audience: q.audience,
      cursor: q.cursor,
      limit: q.limit,
    }),
  ),
);
