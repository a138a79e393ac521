import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Deletes the user with their sessions, consents and grants. */
export const POST = adminRoute({ params: s.userIdParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) => service.deleteUser(params.userId));
