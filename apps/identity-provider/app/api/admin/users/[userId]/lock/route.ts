import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Locks the account (sign-in refused), ending its sessions and grants. */
export const POST = adminRoute(ADMIN_OPERATIONS.lockUser, ({ service, params, input }) => service.lockUser(params.userId, input.duration_seconds));
