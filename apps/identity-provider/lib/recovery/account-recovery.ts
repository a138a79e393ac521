/**
 * Password reset and e-mail verification (README "Password reset and e-mail verification"): the services
 * behind the forms, the CLI and the admin console. Links carry a 256-bit random token; only its keyed
 * digest is stored (identity.account_tokens), bound to the password hash or address it acts on. Audit
 * events carry ids and reasons, never a token, link or address.
 */
import { randomUUID } from 'node:crypto';
import { hashPassword, randomToken, type AccountTokenCheck, type IdentityStore, type MailTemplate } from '@idp/database-identity';
import { checkPasswordPolicy, type PasswordPolicyResult } from '../security/password-policy';
import type { AuditEvent } from '../oidc/audit';
import { endSessionsAfterPasswordChange } from '../oidc/end-sessions';
import type { AuditSink, MailSender, Provider, ProviderSettings, RequestContext } from '../oidc/ports';
import type { ProtocolStore } from '../oidc/store';
import { verifySecondFactor } from '../oidc/second-factor';
import { renderMail } from '../mail/templates';

/** What the services need: a Provider has all of it; the CLI builds the same from its store. */
export interface RecoveryDeps {
  settings: Pick<ProviderSettings, 'issuer' | 'passwordMinLength' | 'recovery'>;
  store: Pick<ProtocolStore, 'users' | 'accountTokens' | 'sessions' | 'grants' | 'box'>;
  audit: AuditSink;
  mail: MailSender;
  now: () => Date;
}

/**
 * For the changes the protocol core never makes (an administrator vouching for an address, a new address):
 * the CLI and the console hand over the data package's whole store.
 */
export type AccountChangeDeps = RecoveryDeps & { store: Pick<IdentityStore, 'users' | 'accountTokens'> };

/** Links lead to these browser endpoints, which move the token into the sealed session cookie. */
export const RECOVERY_LINK_PATHS = { password_reset: '/interaction/reset-link', email_verification: '/interaction/verify-link' } as const;

/** Tokens in links: 43 base64url characters (256 bits); anything else is refused before any lookup. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const isRecoveryToken = (value: unknown): value is string => typeof value === 'string' && TOKEN_SHAPE.test(value);

type Actor = { ctx?: RequestContext | null; by?: 'user' | 'admin' | 'cli' | 'signup' };

function auditBase(ctx: RequestContext | null | undefined): Pick<AuditEvent, 'ip' | 'userAgent' | 'requestId'> {
  return { ip: ctx?.ip ?? null, userAgent: ctx?.userAgent ?? null, requestId: ctx?.requestId ?? null };
}

/** A keyed digest of an attempted address (known or not): the reset's per-account rate-limit key and audit correlation. */
export const accountKeyOf = (deps: Pick<RecoveryDeps, 'store'>, email: string) => deps.store.box.digest(`login:${email.trim().toLowerCase()}`).slice(0, 22);

async function mailLink(deps: RecoveryDeps, template: MailTemplate, user: { id: string; email: string }, ttlSeconds: number): Promise<Date> {
  const token = randomToken();
  const issued = await deps.store.accountTokens.issue({
    tokenDigest: deps.store.box.digest(token),
    userId: user.id,
    purpose: template,
    ttlSeconds,
    now: deps.now(),
  });
  if (!issued) throw new Error('user vanished while a link was issued');
  const link = `${deps.settings.issuer}${RECOVERY_LINK_PATHS[template]}?token=${token}`;
  await deps.mail.send({ template, userId: user.id, message: renderMail(template, { to: user.email, link, expiresInMinutes: Math.round(ttlSeconds / 60) }) });
  return issued.expiresAt;
}

/**
 * "Forgot password?": mails a reset link when the address belongs to an account, and does the same work
 * otherwise (a token, its digest and the same insert statement, which then finds no user), so neither the
 * answer nor its timing tells whether the address exists. The caller answers identically in both cases.
 */
export async function requestPasswordReset(deps: RecoveryDeps, email: string, actor: Actor = {}): Promise<void> {
  const found = await deps.store.users.findByEmailForLogin(email);
  const user = found ? { id: found.id, email: found.email } : null;
  const ttl = deps.settings.recovery.resetTtlSeconds;
  const accountKey = accountKeyOf(deps, email);
  if (!user) {
    // the same statement as a real link, for a user that does not exist: it inserts nothing
    await deps.store.accountTokens.issue({
      tokenDigest: deps.store.box.digest(randomToken()),
      userId: randomUUID(),
      purpose: 'password_reset',
      ttlSeconds: ttl,
      now: deps.now(),
    });
    renderMail('password_reset', {
      to: email,
      link: `${deps.settings.issuer}${RECOVERY_LINK_PATHS.password_reset}?token=${randomToken()}`,
      expiresInMinutes: Math.round(ttl / 60),
    });
    deps.audit.record({
      ...auditBase(actor.ctx),
      action: 'auth.password_reset_requested',
      userId: null,
      details: { reason: 'unknown_account', account_key: accountKey },
    });
    return;
  }
  // the link goes to the address on file, never to the spelling typed into the form
  const expiresAt = await mailLink(deps, 'password_reset', user, ttl);
  deps.audit.record({
    ...auditBase(actor.ctx),
    action: 'auth.password_reset_requested',
    userId: user.id,
    details: { by: actor.by ?? 'user', account_key: accountKey, expires_at: expiresAt.toISOString() },
  });
}

/**
 * Whether a reset must also pass the user's second factor: yes when they have an authenticator app or
 * unused recovery codes (a passkey alone cannot be checked on the reset form, and a passkey user got
 * recovery codes with their first factor). The form then asks for a code (app code or recovery code).
 */
export async function requireSecondFactorForReset(deps: { store: Pick<ProtocolStore, 'authenticators'> }, userId: string): Promise<{ required: boolean }> {
  const factors = await deps.store.authenticators.secondFactors(userId);
  return { required: factors.totp || factors.recoveryCodesLeft > 0 };
}
export type SecondFactorInput = { code?: string };

/** Whether a presented reset token would be accepted now (the reset page; no state changes). */
export async function checkPasswordResetToken(deps: Pick<RecoveryDeps, 'store' | 'now'>, token: string): Promise<AccountTokenCheck> {
  if (!isRecoveryToken(token)) return { status: 'unknown' };
  return deps.store.accountTokens.check(deps.store.box.digest(token), 'password_reset', deps.now());
}

export type PasswordResetResult =
  | { status: 'reset'; userId: string; sessionsEnded: number; refreshTokensRevoked: number }
  | { status: 'invalid_link' }
  | { status: 'second_factor_required' }
  | { status: 'policy'; policy: Exclude<PasswordPolicyResult, { ok: true }> };

/**
 * Sets a new password through a reset link: the link must be live and bound to the current password, the
 * password must pass the policy (checked before the link is used, so a weak choice does not burn it), a
 * user with a second factor must pass it too. Then every session ends and every grant is revoked (the
 * same service as a password change, keeping no session).
 */
export async function completePasswordReset(
  // the provider: a second factor is checked (and throttled) as at sign-in
  deps: RecoveryDeps & Provider,
  input: { token: string; password: string; secondFactor?: SecondFactorInput },
  actor: Actor = {},
): Promise<PasswordResetResult> {
  const base = auditBase(actor.ctx);
  const check = await checkPasswordResetToken(deps, input.token);
  if (check.status !== 'valid') {
    deps.audit.record({ ...base, action: 'auth.password_reset_failed', userId: null, details: { reason: check.status } });
    return { status: 'invalid_link' };
  }
  const factor = await requireSecondFactorForReset(deps, check.userId);
  // the same check, throttle and audit as at sign-in (no enumeration of which factor failed)
  const code = input.secondFactor?.code;
  const passed =
    factor.required && code && actor.ctx ? (await verifySecondFactor(deps, check.userId, { code }, actor.ctx, { purpose: 'password_reset' })).ok : false;
  if (factor.required && !passed) {
    deps.audit.record({ ...base, action: 'auth.password_reset_failed', userId: check.userId, details: { reason: 'second_factor' } });
    return { status: 'second_factor_required' };
  }
  const policy = await checkPasswordPolicy(input.password, { minLength: deps.settings.passwordMinLength, email: check.email, name: check.name });
  if (!policy.ok) return { status: 'policy', policy };
  const consumed = await deps.store.accountTokens.consumePasswordReset(deps.store.box.digest(input.token), await hashPassword(input.password), deps.now());
  if (consumed.status !== 'reset') {
    deps.audit.record({ ...base, action: 'auth.password_reset_failed', userId: check.userId, details: { reason: consumed.status } });
    return { status: 'invalid_link' };
  }
  const ended = await endSessionsAfterPasswordChange(deps.store, consumed.userId, null, 'password_reset');
  deps.audit.record({
    ...base,
    action: 'auth.password_reset_completed',
    userId: consumed.userId,
    details: { sessions_ended: ended.sessionsEnded, refresh_tokens_revoked: ended.refreshTokensRevoked },
  });
  return { status: 'reset', userId: consumed.userId, ...ended };
}

/**
 * Mails a verification link to the user's current address (a new account, a changed address, or an
 * administrator's "resend"). Returns false when the user does not exist or is verified already.
 */
export async function sendEmailVerification(deps: RecoveryDeps, userId: string, actor: Actor = {}): Promise<boolean> {
  const user = await deps.store.users.findById(userId);
  if (!user || user.emailVerified) return false;
  const expiresAt = await mailLink(deps, 'email_verification', user, deps.settings.recovery.verificationTtlSeconds);
  deps.audit.record({
    ...auditBase(actor.ctx),
    action: 'auth.email_verification_sent',
    userId: user.id,
    details: { by: actor.by ?? 'user', expires_at: expiresAt.toISOString() },
  });
  return true;
}

/** Follows a verification link: the address becomes verified if it is still the one the link was sent to. */
export async function verifyEmailWithToken(
  deps: RecoveryDeps,
  token: string,
  actor: Actor = {},
): Promise<{ status: 'verified'; userId: string } | { status: 'invalid_link' }> {
  const outcome = isRecoveryToken(token)
    ? await deps.store.accountTokens.consumeEmailVerification(deps.store.box.digest(token), deps.now())
    : { status: 'unknown' as const };
  if (outcome.status !== 'verified') return { status: 'invalid_link' };
  deps.audit.record({ ...auditBase(actor.ctx), action: 'auth.email_verified', userId: outcome.userId, details: { by: 'link' } });
  return { status: 'verified', userId: outcome.userId };
}

/** An administrator vouches for the address (console, `users:verify-email`). False if already verified or unknown. */
export async function markEmailVerified(
  deps: Pick<AccountChangeDeps, 'store' | 'audit'>,
  userId: string,
  actor: Actor & { adminId?: string | null } = {},
): Promise<boolean> {
  const changed = await deps.store.users.setEmailVerified(userId, true);
  if (changed) {
    await deps.store.accountTokens.revokeAllOfUser(userId, 'email_verification');
    deps.audit.record({
      ...auditBase(actor.ctx),
      action: 'auth.email_verified',
      userId,
      details: { by: actor.by ?? 'admin', ...(actor.adminId ? { admin_id: actor.adminId } : {}) },
    });
  }
  return changed;
}

/** A new address (account page, admin console): unverified until its link is followed; the link is mailed to it. */
export async function changeEmailAddress(deps: AccountChangeDeps, userId: string, email: string, actor: Actor = {}): Promise<boolean> {
  const user = await deps.store.users.changeEmail(userId, email);
  if (!user) return false;
  await sendEmailVerification(deps, userId, actor);
  return true;
}
