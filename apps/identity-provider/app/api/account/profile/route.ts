import { accountRoute } from '@/lib/account/route';
import { noInput, profileInput, profileJson, updateProfile } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** The signed-in user's profile; POST {name} changes it. */
export const GET = accountRoute({ input: noInput }, async (account) => ({ profile: profileJson(account.user) }));
export const POST = accountRoute({ input: profileInput }, updateProfile);
