import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Deletes a client, revoking its grants. */
export const POST = adminRoute(ADMIN_OPERATIONS.deleteClient, ({ service, params }) => service.deleteClient(params.clientId));
