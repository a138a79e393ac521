import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Unlocks the account. */
export const POST = adminRoute(ADMIN_OPERATIONS.unlockUser, ({ service, params }) => service.unlockUser(params.userId));
