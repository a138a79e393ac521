import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Deletes the user with their sessions, consents and grants. */
export const POST = adminRoute(ADMIN_OPERATIONS.deleteUser, ({ service, params }) => service.deleteUser(params.userId));
