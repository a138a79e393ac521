import { accountRoute } from '@/lib/account/route';
import { passwordInput, updatePassword } from '@/lib/account/service';

export const dynamic = 'force-dynamic';

/** POST {current_password, new_password, confirm_password}: ends the other sessions and revokes every grant. */
export const POST = accountRoute({ input: passwordInput }, updatePassword);
