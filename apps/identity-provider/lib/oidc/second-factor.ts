import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { SecondFactorState, User } from './domain';
import type { Provider, RequestContext } from './ports';

/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, what every authenticator app speaks), recovery codes, the
 * second-factor policy and the throttled check of a code (README "Second factors and passkeys").
 */
export const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
/** Steps accepted either side of now: clock drift of a phone, and the seconds it takes to type. */
const TOTP_WINDOW = 1;
/** A source's failed second-factor checks are forgotten a day after the last one. */
const FAILURE_MEMORY_SECONDS = 24 * 3600;

const totpOf = (secret: string, label = 'account', issuer = 'Identity provider') =>
  new TOTP({ issuer, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });

/** A fresh 160-bit secret (RFC 4226 4's recommendation), base32 as apps expect it. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://` URI the QR code carries. */
export function totpUri(secret: string, account: string, issuer: string): string {
  return totpOf(secret, account, issuer).toString();
}

/** The current code (tests, the demo): what an authenticator app would show at `nowMs`. */
export function totpCode(secret: string, nowMs: number): string {
  return totpOf(secret).generate({ timestamp: nowMs });
}

/** The time step whose code `code` is, within the window around `nowMs`, or null. Constant-time per candidate (otpauth). */
export function totpStepOf(secret: string, code: string, nowMs: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secret).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return null;
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

// Crockford-style alphabet without look-alikes (no 0/o, 1/l/i): codes are read off paper
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_LENGTH = 10;

/** Ten codes of 10 characters (about 49 bits each), shown as `xxxxx-xxxxx`. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(RECOVERY_LENGTH * 2);
    let code = '';
    // rejection sampling keeps the characters uniform
    for (const byte of bytes) {
      if (byte >= 256 - (256 % RECOVERY_ALPHABET.length)) continue;
      code += RECOVERY_ALPHABET[byte % RECOVERY_ALPHABET.length];
      if (code.length === RECOVERY_LENGTH) break;
    }
    return code.length === RECOVERY_LENGTH ? `${code.slice(0, 5)}-${code.slice(5)}` : newRecoveryCodes(1)[0];
  });
}

/** The stored form of a typed recovery code (case, spaces and the dash do not matter), or null if it cannot be one. */
export function normaliseRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '');
  return code.length === RECOVERY_LENGTH && [...code].every((c) => RECOVERY_ALPHABET.includes(c)) ? code : null;
}

// --- policy -----------------------------------------------------------------------------------------------

export interface SecondFactorPolicy {
  factors: SecondFactorState;
  /** The user has a second factor: every password sign-in must pass it (turning MFA on is enrolling). */
  enrolled: boolean;
  /** The user's role or the client requires a second factor. */
  required: boolean;
  /** Required but not enrolled: until when the user may still sign in with a password alone (null: no grace left or none applies). */
  graceUntil: Date | null;
}

/**
 * What the policy asks of this user, for this client (null: a direct sign-in). Roles from
 * MFA_REQUIRED_ROLES get MFA_ENROLMENT_GRACE_DAYS from the first time they were asked to enrol; a client
 * that requires MFA grants no grace.
 */
export async function secondFactorPolicy(provider: Provider, user: Pick<User, 'id' | 'roles'>, clientId: string | null): Promise<SecondFactorPolicy> {
  const { requiredRoles, enrolmentGraceDays } = provider.settings.mfa;
  const factors = await provider.store.authenticators.secondFactors(user.id, clientId);
  const clientRequires = factors.clientRequiresMfa;
  const enrolled = factors.totp || factors.passkeys > 0;
  const roleRequires = user.roles.some((role) => requiredRoles.includes(role));
  let graceUntil: Date | null = null;
  if (roleRequires && !clientRequires && !enrolled) {
    const since = factors.enrolmentRequestedAt ?? (await provider.store.authenticators.requestEnrolment(user.id, provider.now()));
    const until = new Date(since.getTime() + enrolmentGraceDays * 86_400_000);
    if (until > provider.now()) graceUntil = until;
  }
  return { factors, enrolled, required: roleRequires || clientRequires, graceUntil };
}

// --- the throttled check ----------------------------------------------------------------------------------

export type SecondFactorInput = { code: string };
export type SecondFactorResult = { ok: true; method: 'totp' | 'recovery_code'; amr: ['otp'] } | { ok: false; retryAfterSeconds: number | null };

const throttleKey = (provider: Provider, userId: string) => provider.store.box.digest(`mfa-user:${userId}`);

/**
 * Checks a TOTP code or a recovery code for `userId` (whoever already passed the first step: the login
 * form, or a password reset link). Throttled like passwords (README "Login protection"), per user: a few
 * free failures, then a doubling wait during which nothing is checked. TOTP codes are accepted once (the
 * time step is stored); a recovery code is spent. Audited as `auth.mfa_succeeded` / `auth.mfa_failed` /
 * `auth.recovery_code_used` with ids only. The answer never says which kind of code was wrong.
 *
 * Exposed for the password reset (a user with a second factor must pass it there too).
 */
export async function verifySecondFactor(
  provider: Provider,
  userId: string,
  input: SecondFactorInput,
  ctx: RequestContext,
  audit: { clientId?: string | null; purpose?: string } = {},
): Promise<SecondFactorResult> {
  const now = provider.now();
  const base = { userId, clientId: audit.clientId ?? null, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  const key = throttleKey(provider, userId);
  const policy = {
    freeFailures: provider.settings.login.maxFailures,
    maxDelaySeconds: provider.settings.login.lockSeconds,
    forgetAfterSeconds: FAILURE_MEMORY_SECONDS,
    backstopWindowSeconds: 3600,
  };
  const { throttles } = await provider.store.users.loginThrottleState([key], null, now);
  const blocked = throttles.get(key)?.blockedUntil;
  if (blocked && blocked > now) {
    const retryAfterSeconds = Math.max(1, Math.ceil((blocked.getTime() - now.getTime()) / 1000));
    provider.audit.record({
      ...base,
      action: 'security.rate_limited',
      details: { endpoint: 'login', scope: 'second_factor', retry_after_seconds: retryAfterSeconds, failures: throttles.get(key)!.failures },
    });
    return { ok: false, retryAfterSeconds };
  }

  const code = input.code.trim().slice(0, 64);
  let method: 'totp' | 'recovery_code' | null = null;
  if (/^\d{6}$/.test(code)) {
    const totp = await provider.store.authenticators.totpOf(userId);
    const step = totp?.confirmed ? totpStepOf(totp.secret, code, now.getTime()) : null;
    // accepted once: a replay within the window, or an older step, loses against last_used_step
    if (step !== null && (await provider.store.authenticators.acceptTotpStep(userId, step, { confirm: false, now }))) method = 'totp';
  } else {
    const recovery = normaliseRecoveryCode(code);
    if (recovery && (await provider.store.authenticators.useRecoveryCode(userId, recovery, now))) method = 'recovery_code';
  }

  if (!method) {
    const counted = await provider.store.users.recordLoginFailure(key, null, policy, now);
    provider.audit.record({
      ...base,
      action: 'auth.mfa_failed',
      details: { factor: 'code', purpose: audit.purpose ?? 'sign_in', failures: counted.source.failures },
    });
    return { ok: false, retryAfterSeconds: null };
  }
  await provider.store.users.recordLoginSuccess(userId, [key], null, now);
  if (method === 'recovery_code') {
    const left = (await provider.store.authenticators.secondFactors(userId)).recoveryCodesLeft;
    provider.audit.record({ ...base, action: 'auth.recovery_code_used', details: { recovery_codes_left: left, purpose: audit.purpose ?? 'sign_in' } });
  }
  provider.audit.record({ ...base, action: 'auth.mfa_succeeded', details: { factor: method, purpose: audit.purpose ?? 'sign_in' } });
  return { ok: true, method, amr: ['otp'] };
}

/** A failed passkey assertion of a known user counts against the same throttle as codes. */
export async function recordSecondFactorFailure(provider: Provider, userId: string): Promise<void> {
  const now = provider.now();
  await provider.store.users.recordLoginFailure(
    throttleKey(provider, userId),
    null,
    {
      freeFailures: provider.settings.login.maxFailures,
      maxDelaySeconds: provider.settings.login.lockSeconds,
      forgetAfterSeconds: FAILURE_MEMORY_SECONDS,
      backstopWindowSeconds: 3600,
    },
    now,
  );
}
