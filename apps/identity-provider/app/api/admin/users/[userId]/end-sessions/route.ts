import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Ends every session of the user. */
export const POST = adminRoute({ params: s.userIdParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) =>
  service.endUserSessions(params.userId),
);
