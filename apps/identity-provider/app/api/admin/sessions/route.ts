import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Active provider sessions; `q` searches the email. */
export const GET = adminRoute(ADMIN_OPERATIONS.listSessions, ({ service, input }) => service.listSessions(input));
