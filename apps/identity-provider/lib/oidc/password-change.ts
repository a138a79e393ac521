import type { Session } from './domain';
import { verifyPassword } from './crypto';
import { checkPasswordPolicy, MAX_PASSWORD_CHARACTERS } from '../security/password-policy';
import { endSessionsAfterPasswordChange } from './end-sessions';
import { reportOutcome } from './outcome';
import type { Provider, RequestContext } from './ports';
import { enforceRateLimits, RateLimited } from './steps/rate-limit';

export const MAX_PASSWORD_LENGTH = MAX_PASSWORD_CHARACTERS;
/** The forced change (must_change_password) may skip the current password only this soon after the login. */
export const FORCED_CHANGE_WINDOW_SECONDS = 10 * 60;

/** Why a change was refused, as the forms and the account API name it. */
export type PasswordChangeRefusal = 'current' | 'length' | 'weak' | 'mismatch' | 'reused';

export type PasswordChangeOutcome =
  | { status: 'changed'; forced: boolean; sessionsEnded: number; refreshTokensRevoked: number }
  | { status: 'refused'; reason: PasswordChangeRefusal }
  | { status: 'rate_limited'; error: RateLimited }
  /** The session's user is gone. */
  | { status: 'no_user' };

export interface PasswordChangeInput {
  /** The signed-in session asking for the change; it stays signed in. */
  session: Session;
  currentPassword: string;
  newPassword: string;
  confirmPassword: string;
  /** The client whose sign-in asked for the change, for the audit event. */
  clientId?: string | null;
  /** Never let the forced-change window skip the current password (the account page). */
  alwaysAskCurrent?: boolean;
}

/**
 * Whether a password change must present the current password: always, except for the forced change
 * (must_change_password) within a few minutes of the login that started this session. A stolen session
 * alone thus cannot take the account over.
 */
export function needsCurrentPassword(user: { mustChangePassword: boolean }, session: { authTime: Date }, now: Date): boolean {
  return !(user.mustChangePassword && now.getTime() - session.authTime.getTime() <= FORCED_CHANGE_WINDOW_SECONDS * 1000);
}

/**
 * The one password change (the /password form and the account page): rate limited per user, needs the
 * current password (needsCurrentPassword), then ends the user's other sessions and revokes all their
 * grants (refresh tokens and the access tokens issued from them), and records `auth.password_changed`.
 */
export async function changePassword(provider: Provider, ctx: RequestContext, input: PasswordChangeInput): Promise<PasswordChangeOutcome> {
  const { session } = input;
  const found = await provider.store.users.findById(session.userId);
  const user = found ? await provider.store.users.findByEmailForLogin(found.email) : null;
  if (!user || user.id !== session.userId) return { status: 'no_user' };
  try {
    enforceRateLimits(provider, ctx, 'password_change', [{ scope: 'user', key: user.id, rule: provider.settings.rateLimits.passwordChange }], {
      userId: user.id,
    });
  } catch (error) {
    if (error instanceof RateLimited) return { status: 'rate_limited', error };
    throw error;
  }
  const current = input.currentPassword.slice(0, MAX_PASSWORD_LENGTH);
  const password = input.newPassword;
  const askCurrent = input.alwaysAskCurrent || needsCurrentPassword(user, session, provider.now());
  if (askCurrent && !(await verifyPassword(current, user.passwordHash))) return { status: 'refused', reason: 'current' };
  if (password !== input.confirmPassword) return { status: 'refused', reason: 'mismatch' };
  const policy = await checkPasswordPolicy(password, { minLength: provider.settings.passwordMinLength, email: user.email, name: user.name });
  if (!policy.ok) return { status: 'refused', reason: policy.reason === 'too_guessable' ? 'weak' : 'length' };
  if (await verifyPassword(password, user.passwordHash)) return { status: 'refused', reason: 'reused' };

  await provider.store.users.setPassword(user.id, password, { mustChange: false });
  // whoever else holds a session or a token of this user loses it; this browser stays signed in
  const { sessionsEnded, refreshTokensRevoked } = await endSessionsAfterPasswordChange(provider.store, user.id, session.sid);
  provider.audit.record({
    action: 'auth.password_changed',
    userId: user.id,
    clientId: input.clientId ?? null,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    details: { forced: user.mustChangePassword, sessions_ended: sessionsEnded, refresh_tokens_revoked: refreshTokensRevoked },
  });
  reportOutcome(ctx, { password: 'password_changed' });
  return { status: 'changed', forced: user.mustChangePassword, sessionsEnded, refreshTokensRevoked };
}
