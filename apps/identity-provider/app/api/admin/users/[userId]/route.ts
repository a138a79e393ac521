import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** One user and the grants they hold. */
export const GET = adminRoute(ADMIN_OPERATIONS.getUser, ({ service, params }) => service.getUser(params.userId));

/** Edits name, email, roles. */
export const POST = adminRoute(ADMIN_OPERATIONS.updateUser, ({ service, params, input }) => service.updateUser(params.userId, input));
