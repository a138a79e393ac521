import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The user's active sessions. */
export const GET = adminRoute(ADMIN_OPERATIONS.userSessions, ({ service, params, input }) => service.listSessions({ ...input, userId: params.userId }));
