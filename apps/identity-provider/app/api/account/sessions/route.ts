import { accountRoute } from '@/lib/account/route';
import { listSessions, noInput } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** The user's live sessions: this device and the others. */
export const GET = accountRoute({ input: noInput }, listSessions);
