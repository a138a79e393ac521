import { accountRoute } from '@/lib/account/route';
import { listApps, noInput } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** Every client holding a consent or a live refresh token of the user. */
export const GET = accountRoute({ input: noInput }, listApps);
