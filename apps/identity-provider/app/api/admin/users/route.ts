import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Users, newest first; `q` searches email, name and id. */
export const GET = adminRoute({ input: s.pageQuery }, ({ service, input }) => service.listUsers(input));

/** Creates a user; without a password a one-time one is in the answer, once. */
export const POST = adminRoute({ input: s.userCreateInput, recentSignIn: true }, ({ service, input }) => service.createUser(input));
