import { accountRoute } from '@/lib/account/route';
import { endSessionInput, endSessions } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** POST {session_id} or {all_others: true}. */
export const POST = accountRoute({ input: endSessionInput }, endSessions);
