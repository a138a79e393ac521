import { accountRoute } from '@/lib/account/route';
import { activityInput, listActivity } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** Recent security activity of the account, newest first; `cursor` pages on (keyset). */
export const GET = accountRoute({ input: activityInput }, listActivity);
