import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Ends one session. */
export const POST = adminRoute(ADMIN_OPERATIONS.endSession, ({ service, params }) => service.endSession(params.sid));
