import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The clients the user consented to. */
export const GET = adminRoute(ADMIN_OPERATIONS.userConsents, ({ service, params }) => service.userConsents(params.userId));
