import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Ends every session of the user. */
export const POST = adminRoute(ADMIN_OPERATIONS.endUserSessions, ({ service, params }) => service.endUserSessions(params.userId));
