import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The user's audit events (sign-ins with IP and user agent, lockouts, reuse). */
export const GET = adminRoute({ params: s.userIdParam, input: s.pageQuery }, ({ service, params, input }) => service.userEvents(params.userId, input));
