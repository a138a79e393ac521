import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Revokes a grant: its refresh tokens and the access tokens issued from it. */
export const POST = adminRoute(ADMIN_OPERATIONS.revokeFamily, ({ service, params }) => service.revokeFamily(params.familyId));
