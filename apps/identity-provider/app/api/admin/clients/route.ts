import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Clients, newest first; `q` searches client_id and name. */
export const GET = adminRoute({ input: s.pageQuery }, ({ service, input }) => service.listClients(input));

/** Registers a client; a confidential client's secret is in the answer, once. */
export const POST = adminRoute({ input: s.clientCreateInput, recentSignIn: true }, ({ service, input }) => service.createClient(input));
