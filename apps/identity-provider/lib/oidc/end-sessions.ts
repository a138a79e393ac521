import type { ProtocolStore } from './store';

/**
 * What every password change does after the new password is stored (the /password form, a reset by link):
 * whoever else holds a session or a token of this user loses it. `keepSid`: the browser that made the
 * change stays signed in (null: every session ends). Grants are revoked with their refresh tokens and the
 * access tokens issued from them.
 */
export async function endSessionsAfterPasswordChange(
  store: Pick<ProtocolStore, 'sessions' | 'grants'>,
  userId: string,
  keepSid: string | null,
  reason: 'password_changed' | 'password_reset' = 'password_changed',
): Promise<{ sessionsEnded: number; refreshTokensRevoked: number }> {
  const sessionsEnded = await store.sessions.revokeOthersOfUser(userId, keepSid);
  const refreshTokensRevoked = await store.grants.revokeUserGrants(userId, reason);
  return { sessionsEnded, refreshTokensRevoked };
}
