import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The next sign-in must choose a new password. */
export const POST = adminRoute({ params: s.userIdParam, input: s.emptyInput }, ({ service, params }) => service.forcePasswordChange(params.userId));
