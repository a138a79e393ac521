import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Security events (replays, reuse, stuffing, spraying, rate limits, lockouts), newest first. */
export const GET = adminRoute({ input: s.securityQuery }, ({ service, input }) => service.securityEvents(input));
