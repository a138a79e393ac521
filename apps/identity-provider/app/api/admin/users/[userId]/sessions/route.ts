import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The user's active sessions. */
export const GET = adminRoute({ params: s.userIdParam, input: s.pageQuery }, ({ service, params, input }) =>
  service.listSessions({ ...input, userId: params.userId }),
);
