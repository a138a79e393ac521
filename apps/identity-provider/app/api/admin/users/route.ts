import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Users, newest first; `q` searches email, name and id. */
export const GET = adminRoute(ADMIN_OPERATIONS.listUsers, ({ service, input }) => service.listUsers(input));

/** Creates a user; without a password a one-time one is in the answer, once. */
export const POST = adminRoute(ADMIN_OPERATIONS.createUser, ({ service, input }) => service.createUser(input));
