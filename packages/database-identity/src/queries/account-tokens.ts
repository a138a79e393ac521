import type { Queryable } from '../driver';

/** What a link in a mail lets its holder do once. */
export type AccountTokenPurpose = 'password_reset' | 'email_verification';

/**
 * The binding of a token row, computed in SQL from the token's digest and the user's current password hash
 * (reset) or lower-cased address (verification): a password change or a new address kills older links.
 */
const bindingSql = (digest: string, user: string, purpose: string) =>
  `encode(sha256(convert_to(${digest} || ':' || case when ${purpose} = 'password_reset' then ${user}.password_hash else lower(${user}.email) end, 'UTF8')), 'hex')`;

/** A presented token: valid, or why not (the caller answers all of these the same way). */
export type AccountTokenCheck =
  { status: 'valid'; userId: string; email: string; name: string | null; expiresAt: Date } | { status: 'unknown' | 'expired' | 'stale' };

export type PasswordResetOutcome = { status: 'reset'; userId: string } | { status: 'unknown' | 'expired' | 'stale' };
export type EmailVerificationOutcome = { status: 'verified'; userId: string; email: string } | { status: 'unknown' | 'expired' | 'stale' };

type CheckRow = { user_id: string; email: string; name: string | null; expires_at: Date; live: boolean; bound: boolean };

function outcome<T extends { live: boolean; bound: boolean }>(row: T | undefined): 'unknown' | 'expired' | 'stale' | null {
  if (!row) return 'unknown';
  if (!row.live) return 'expired';
  if (!row.bound) return 'stale';
  return null;
}

/**
 * Password-reset and e-mail-verification tokens (identity.account_tokens). Callers pass keyed digests
 * (SecretBox.digest), never the token; `now` is the caller's clock (tests inject it).
 */
export function accountTokenQueries(db: Queryable) {
  return {
    /**
     * Stores a new token for the user, bound to the current password hash or address, and drops the user's
     * older tokens of the same purpose (only the newest link works). Null when the user does not exist.
     */
    async issue(input: {
      tokenDigest: string;
      userId: string;
      purpose: AccountTokenPurpose;
      ttlSeconds: number;
      now: Date;
    }): Promise<{ expiresAt: Date } | null> {
      const [row] = await db.query<{ expires_at: Date }>(
        `with dropped as (delete from identity.account_tokens where user_id = $2 and purpose = $3)
         insert into identity.account_tokens (token_hash, user_id, purpose, binding, created_at, expires_at)
         select $1, u.id, $3, ${bindingSql('$1::text', 'u', '$3::text')}, $4::timestamptz, $4::timestamptz + make_interval(secs => $5)
           from identity.users u where u.id = $2
         returning expires_at`,
        [input.tokenDigest, input.userId, input.purpose, input.now.toISOString(), input.ttlSeconds],
      );
      return row ? { expiresAt: row.expires_at } : null;
    },

    /** Whether a token would be accepted now, without using it (the reset page, the policy's context words). */
    async check(tokenDigest: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenCheck> {
      const [row] = await db.query<CheckRow>(
        `select u.id as user_id, u.email, u.name, t.expires_at, t.expires_at > $3::timestamptz as live,
                t.binding = ${bindingSql('t.token_hash', 'u', 't.purpose')} as bound
           from identity.account_tokens t join identity.users u on u.id = t.user_id
          where t.token_hash = $1 and t.purpose = $2`,
        [tokenDigest, purpose, now.toISOString()],
      );
      const failed = outcome(row);
      return failed ? { status: failed } : { status: 'valid', userId: row.user_id, email: row.email, name: row.name, expiresAt: row.expires_at };
    },

    /**
     * Uses a reset token and sets the new password (already hashed) in one statement: the token row is
     * deleted whatever its state (single use), the password changes only when it was live and still bound to
     * the current password hash, and the user's other reset tokens go too. Concurrent uses: one wins.
     */
    async consumePasswordReset(tokenDigest: string, newPasswordHash: string, now: Date): Promise<PasswordResetOutcome> {
      const [row] = await db.query<{ user_id: string; live: boolean; bound: boolean }>(
        `with consumed as (
           delete from identity.account_tokens where token_hash = $1 and purpose = 'password_reset'
           returning user_id, binding, expires_at
         ), target as (
           select c.user_id, c.expires_at > $3::timestamptz as live, c.binding = ${bindingSql('$1::text', 'u', `'password_reset'`)} as bound
             from consumed c join identity.users u on u.id = c.user_id
         ), updated as (
           update identity.users u set password_hash = $2, must_change_password = false, updated_at = now()
             from target where u.id = target.user_id and target.live and target.bound
           returning u.id
         ), others as (
           delete from identity.account_tokens t using updated
            where t.user_id = updated.id and t.purpose = 'password_reset' and t.token_hash <> $1
         )
         select user_id, live, bound from target`,
        [tokenDigest, newPasswordHash, now.toISOString()],
      );
      const failed = outcome(row);
      return failed ? { status: failed } : { status: 'reset', userId: row.user_id };
    },

    /** Uses a verification token: marks the address verified when the token is live and the address unchanged. */
    async consumeEmailVerification(tokenDigest: string, now: Date): Promise<EmailVerificationOutcome> {
      const [row] = await db.query<{ user_id: string; email: string; live: boolean; bound: boolean }>(
        `with consumed as (
           delete from identity.account_tokens where token_hash = $1 and purpose = 'email_verification'
           returning user_id, binding, expires_at
         ), target as (
           select c.user_id, u.email, c.expires_at > $2::timestamptz as live, c.binding = ${bindingSql('$1::text', 'u', `'email_verification'`)} as bound
             from consumed c join identity.users u on u.id = c.user_id
         ), updated as (
           update identity.users u set email_verified = true, updated_at = now()
             from target where u.id = target.user_id and target.live and target.bound and not u.email_verified
           returning u.id
         )
         select user_id, email, live, bound from target`,
        [tokenDigest, now.toISOString()],
      );
      const failed = outcome(row);
      return failed ? { status: failed } : { status: 'verified', userId: row.user_id, email: row.email };
    },

    /** Drops every link of the user (after an administrator's reset, say). Returns how many. */
    async revokeAllOfUser(userId: string, purpose?: AccountTokenPurpose): Promise<number> {
      const rows = await db.query(`delete from identity.account_tokens where user_id = $1 and ($2::text is null or purpose = $2) returning 1`, [
        userId,
        purpose ?? null,
      ]);
      return rows.length;
    },

    async purgeExpired(now: Date = new Date()): Promise<number> {
      const rows = await db.query(`delete from identity.account_tokens where expires_at <= $1::timestamptz returning 1`, [now.toISOString()]);
      return rows.length;
    },
  };
}

export type AccountTokenQueries = ReturnType<typeof accountTokenQueries>;
