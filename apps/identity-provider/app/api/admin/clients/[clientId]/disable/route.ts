import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Disables (revoking its grants) or enables a client. */
export const POST = adminRoute(ADMIN_OPERATIONS.disableClient, ({ service, params, input }) => service.setClientDisabled(params.clientId, input.disabled));
