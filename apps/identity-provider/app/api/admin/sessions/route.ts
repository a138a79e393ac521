import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Active provider sessions; `q` searches the email. */
export const GET = adminRoute({ input: s.pageQuery }, ({ service, input }) => service.listSessions(input));
