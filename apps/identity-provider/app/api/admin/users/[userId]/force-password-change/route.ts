import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The next sign-in must choose a new password. */
export const POST = adminRoute(ADMIN_OPERATIONS.forcePasswordChange, ({ service, params }) => service.forcePasswordChange(params.userId));
