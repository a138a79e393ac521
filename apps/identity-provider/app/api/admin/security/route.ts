import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Security events (replays, reuse, stuffing, spraying, rate limits, lockouts), newest first. */
export const GET = adminRoute(ADMIN_OPERATIONS.securityEvents, ({ service, input }) => service.securityEvents(input));
