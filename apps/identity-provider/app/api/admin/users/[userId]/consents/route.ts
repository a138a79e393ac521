import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The clients the user consented to. */
export const GET = adminRoute({ params: s.userIdParam }, ({ service, params }) => service.userConsents(params.userId));
