import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The user's audit events (sign-ins with IP and user agent, lockouts, reuse). */
export const GET = adminRoute(ADMIN_OPERATIONS.userEvents, ({ service, params, input }) => service.userEvents(params.userId, input));
