import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** One user and the grants they hold. */
export const GET = adminRoute({ params: s.userIdParam }, ({ service, params }) => service.getUser(params.userId));

/** Edits name, email, roles. */
export const POST = adminRoute({ params: s.userIdParam, input: s.userUpdateInput, recentSignIn: true }, ({ service, params, input }) =>
  service.updateUser(params.userId, input),
);
