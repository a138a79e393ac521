import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Clients, newest first; `q` searches client_id and name. */
export const GET = adminRoute(ADMIN_OPERATIONS.listClients, ({ service, input }) => service.listClients(input));

/** Registers a client; a confidential client's secret is in the answer, once. */
export const POST = adminRoute(ADMIN_OPERATIONS.createClient, ({ service, input }) => service.createClient(input));
