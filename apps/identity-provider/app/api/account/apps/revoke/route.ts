import { accountRoute } from '@/lib/account/route';
import { revokeApp, revokeAppInput } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** POST {client_id}: forgets the consent and revokes the app's grants (refresh and access tokens). */
export const POST = accountRoute({ input: revokeAppInput }, revokeApp);
