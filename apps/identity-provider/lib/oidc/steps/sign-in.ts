import type { User } from '../domain';
import { INTERACTION_PATHS } from '../endpoints/authorize';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { newCsrfToken, sessionCookie, type BrowserSession, type PendingAuthorization } from '../session';

/** Where a finished sign-in continues: the pending authorization, or a local path (direct sign-in). */
export type SignInTarget = { pending: PendingAuthorization; interactionId: string } | { returnTo: string };

/**
 * The last step of every sign-in (password, password + second factor, passkey, step-up): a new session
 * (new sid: no fixation) carrying how the user authenticated, a new CSRF token, the pending authorization
 * marked as freshly authenticated (prompt=login, max_age), and the audit event. Returns where to go next
 * and the session cookie; the caller answers with a redirect (forms) or JSON (WebAuthn).
 */
export async function establishSession(
  provider: Provider,
  ctx: RequestContext,
  browser: BrowserSession,
  user: Pick<User, 'id' | 'mustChangePassword'>,
  authn: { amr: string[]; acr: string },
  target: SignInTarget,
  extra: { clientId?: string | null; nudgeEnrolment?: boolean } = {},
): Promise<{ next: string; cookie: string }> {
  const now = provider.now();
  if (browser.sid) await provider.store.sessions.revoke(browser.sid);
  const session = await provider.store.sessions.create({
    userId: user.id,
    authTime: now,
    ttlSeconds: provider.settings.ttl.session,
    ipAddress: ctx.ip,
    userAgent: ctx.userAgent,
    amr: authn.amr,
    acr: authn.acr,
  });
  browser.sid = session.sid;
  browser.csrf = newCsrfToken();
  delete browser.mfa;
  if ('pending' in target) target.pending.loginAt = now.getTime();
  provider.audit.record({
    action: 'auth.login_succeeded',
    userId: user.id,
    clientId: extra.clientId ?? null,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    details: { sid_created: true, amr: authn.amr, acr: authn.acr },
  });
  reportOutcome(ctx, { login: 'success' });
  let next =
    'pending' in target
      ? `${user.mustChangePassword ? INTERACTION_PATHS.password : INTERACTION_PATHS.resume}?interaction=${target.interactionId}`
      : user.mustChangePassword
        ? `${INTERACTION_PATHS.password}?return_to=${encodeURIComponent(target.returnTo)}`
        : target.returnTo;
  // the MFA policy wants a second factor this user has not enrolled: the security page first (skippable in the grace period)
  if (extra.nudgeEnrolment && !user.mustChangePassword) next = enrolmentPath(target);
  return { next, cookie: await sessionCookie(browser, provider.settings) };
}

/** The second-factor page for a sign-in target. */
export function secondFactorPath(target: SignInTarget | { interactionId: string } | { returnTo: string }): string {
  return 'interactionId' in target
    ? `${INTERACTION_PATHS.mfa}?interaction=${target.interactionId}`
    : `${INTERACTION_PATHS.mfa}?return_to=${encodeURIComponent(target.returnTo)}`;
}

/** The security page in enrolment mode, continuing to the sign-in's target afterwards. */
export function enrolmentPath(target: SignInTarget | { interactionId: string }): string {
  const then = 'interactionId' in target ? `${INTERACTION_PATHS.resume}?interaction=${target.interactionId}` : target.returnTo;
  return `${INTERACTION_PATHS.security}?enrol=required&return_to=${encodeURIComponent(then)}`;
}
