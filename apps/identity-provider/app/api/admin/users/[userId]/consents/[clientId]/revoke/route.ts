import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Withdraws a consent and revokes the refresh tokens it backed. */
export const POST = adminRoute(ADMIN_OPERATIONS.revokeConsent, ({ service, params }) => service.revokeConsent(params.userId, params.clientId));
