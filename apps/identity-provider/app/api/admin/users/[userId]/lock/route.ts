import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Locks the account (sign-in refused), ending its sessions and grants. */
export const POST = adminRoute({ params: s.userIdParam, input: s.lockInput, recentSignIn: true }, ({ service, params, input }) =>
  service.lockUser(params.userId, input.duration_seconds),
);
