import { hashPassword } from '../crypto/secrets';
import type { Queryable } from '../driver';
import { accessTokenRevokedSql } from './revocation';

export interface User {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  roles: string[];
  mustChangePassword: boolean;
  failedLoginCount: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Who an access token speaks for, and whether it still may. */
export interface AccessTokenSubject {
  /** Null when the subject is not a user (client_credentials) or no longer exists. */
  user: User | null;
  revoked: boolean;
}

/** A user row together with its password hash: only for the login check, never handed further. */
export interface UserWithPasswordHash extends User {
  passwordHash: string;
}

export interface NewUser {
  email: string;
  password: string;
  name?: string;
  givenName?: string;
  familyName?: string;
  roles?: string[];
  mustChangePassword?: boolean;
  emailVerified?: boolean;
}

/** One throttle counter (README "Login protection"); keys are keyed digests made by the caller. */
export interface LoginThrottle {
  failures: number;
  /** Per source: attempts are refused until then. */
  blockedUntil: Date | null;
  /** Per source: when the failures are forgotten; backstop: when its window ends. */
  expiresAt: Date;
}

export interface LoginThrottlePolicy {
  /** Failures a source may make before it has to wait. */
  freeFailures: number;
  /** Upper bound of the wait (it doubles with each further failure). */
  maxDelaySeconds: number;
  /** A source's failures are forgotten this long after its last one. */
  forgetAfterSeconds: number;
  /** Window of the account-wide backstop. */
  backstopWindowSeconds: number;
}

type ThrottleRow = { throttle_key: string; failures: number; blocked_until: Date | null; expires_at: Date };
const toThrottle = (row: ThrottleRow): LoginThrottle => ({ failures: row.failures, blockedUntil: row.blocked_until, expiresAt: row.expires_at });

export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`A user with email ${email} already exists`);
    this.name = 'DuplicateEmailError';
  }
}

export const COLUMNS = `id, email, email_verified, name, given_name, family_name, roles, must_change_password,
  failed_login_count, locked_until, created_at, updated_at`;
const COLUMNS_OF_U = COLUMNS.split(',')
  .map((column) => `u.${column.trim()}`)
  .join(', ');

export type UserRow = {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  roles: string[];
  must_change_password: boolean;
  failed_login_count: number;
  locked_until: Date | null;
  created_at: Date;
  updated_at: Date;
  password_hash?: string;
};

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    givenName: row.given_name,
    familyName: row.family_name,
    roles: row.roles,
    mustChangePassword: row.must_change_password,
    failedLoginCount: row.failed_login_count,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}

export function userQueries(db: Queryable) {
  return {
    async create(input: NewUser): Promise<User> {
      const passwordHash = await hashPassword(input.password);
      try {
        const [row] = await db.query<UserRow>(
          `insert into identity.users (email, password_hash, name, given_name, family_name, roles, must_change_password, email_verified)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${COLUMNS}`,
          [
            input.email.trim(),
            passwordHash,
            input.name ?? null,
            input.givenName ?? null,
            input.familyName ?? null,
            input.roles ?? [],
            input.mustChangePassword ?? false,
            input.emailVerified ?? false,
          ],
        );
        return toUser(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEmailError(input.email);
        throw error;
      }
    },

    async findById(id: string): Promise<User | null> {
      const [row] = await db.query<UserRow>(`select ${COLUMNS} from identity.users where id = $1`, [id]);
      return row ? toUser(row) : null;
    },

    /** Case-insensitive: served by the unique index on lower(email). */
    async findByEmailForLogin(email: string): Promise<UserWithPasswordHash | null> {
      const [row] = await db.query<UserRow>(`select ${COLUMNS}, password_hash from identity.users where lower(email) = lower($1)`, [email.trim()]);
      return row ? { ...toUser(row), passwordHash: row.password_hash! } : null;
    },

    /**
     * UserInfo and introspection in one round trip: the token's subject and whether the token is revoked,
     * individually (jti) or through its grant (a missing or revoked family counts as revoked), with the
     * revocation epoch of the same snapshot (the answer stays true while the epoch does). `userId` null: the
     * subject is not a user (client_credentials), only revocation is looked up.
     */
    async findAccessTokenSubject(userId: string | null, jti: string, familyId: string | null): Promise<AccessTokenSubject & { epoch: number }> {
      // not ids we issue: revoked, but still answered with the epoch so the caller may remember it
      const malformed = (userId !== null && !UUID.test(userId)) || (familyId !== null && !UUID.test(familyId));
      const [row] = await db.query<UserRow & { revoked: boolean; found: boolean; epoch: number }>(
        `select ${COLUMNS_OF_U}, u.id is not null as found,
                $4::boolean or ${accessTokenRevokedSql('$2', '$3')} as revoked,
                (select epoch from identity.revocation_epoch) as epoch
           from (select 1) as one left join identity.users u on u.id = $1::uuid`,
        [malformed ? null : userId, jti, malformed ? null : familyId, malformed],
      );
      return { user: row.found ? toUser(row) : null, revoked: row.revoked, epoch: Number(row.epoch) };
    },

    async list(): Promise<User[]> {
      const rows = await db.query<UserRow>(`select ${COLUMNS} from identity.users order by created_at, email`);
      return rows.map(toUser);
    },

    async countAdmins(): Promise<number> {
      const [row] = await db.query<{ n: number }>(`select count(*)::int as n from identity.users where 'admin' = any(roles)`);
      return row.n;
    },

    /**
     * The live throttle counters among `keys`, and whether `deviceKey` is a device that signed in to this
     * account before. One round trip, before any password hash is computed. `now` is the caller's clock.
     */
    async loginThrottleState(
      keys: string[],
      deviceKey: string | null,
      now: Date,
    ): Promise<{ throttles: Map<string, LoginThrottle>; deviceRecognised: boolean }> {
      const rows = await db.query<ThrottleRow & { device_recognised: boolean }>(
        `select t.throttle_key, t.failures, t.blocked_until, t.expires_at, d.recognised as device_recognised
           from (select exists (select 1 from identity.login_devices where device_key = $2 and expires_at > $3::timestamptz) as recognised) d
           left join identity.login_throttles t on t.throttle_key = any($1::text[]) and t.expires_at > $3::timestamptz`,
        [keys, deviceKey, now.toISOString()],
      );
      const throttles = new Map(rows.filter((r) => r.throttle_key !== null).map((r) => [r.throttle_key, toThrottle(r)]));
      return { throttles, deviceRecognised: rows[0]?.device_recognised ?? false };
    },

    /**
     * Counts one failed sign-in for its source (growing delay once past the free failures: 2^(n - free)
     * seconds, capped) and, when given, for the account-wide backstop (fixed window). Atomic per row.
     */
    async recordLoginFailure(
      sourceKey: string,
      accountKey: string | null,
      policy: LoginThrottlePolicy,
      now: Date,
    ): Promise<{ source: LoginThrottle; account: LoginThrottle | null }> {
      const failures = `case when t.expires_at <= $2::timestamptz then 1 else t.failures + 1 end`;
      const delay = (n: string) => `case when ${n} >= $3 then $2::timestamptz + make_interval(secs => least($4::float8, power(2::float8, ${n} - $3))) end`;
      const [source] = await db.query<ThrottleRow>(
        `insert into identity.login_throttles as t (throttle_key, failures, window_started_at, blocked_until, expires_at)
         values ($1, 1, $2::timestamptz, ${delay('1')}, $2::timestamptz + make_interval(secs => $5))
         on conflict (throttle_key) do update
            set failures = ${failures},
                window_started_at = case when t.expires_at <= $2::timestamptz then $2::timestamptz else t.window_started_at end,
                blocked_until = ${delay(failures)},
                expires_at = $2::timestamptz + make_interval(secs => $5)
         returning throttle_key, failures, blocked_until, expires_at`,
        [sourceKey, now.toISOString(), policy.freeFailures, policy.maxDelaySeconds, policy.forgetAfterSeconds],
      );
      if (!accountKey) return { source: toThrottle(source), account: null };
      const [account] = await db.query<ThrottleRow>(
        `insert into identity.login_throttles as t (throttle_key, failures, window_started_at, expires_at)
         values ($1, 1, $2::timestamptz, $2::timestamptz + make_interval(secs => $3))
         on conflict (throttle_key) do update
            set failures = ${failures},
                window_started_at = case when t.expires_at <= $2::timestamptz then $2::timestamptz else t.window_started_at end,
                expires_at = case when t.expires_at <= $2::timestamptz then $2::timestamptz + make_interval(secs => $3) else t.expires_at end
         returning throttle_key, failures, blocked_until, expires_at`,
        [accountKey, now.toISOString(), policy.backstopWindowSeconds],
      );
      return { source: toThrottle(source), account: toThrottle(account) };
    },

    /**
     * A successful sign-in: forgets the failures of the sources it came from (never the backstop, which
     * counts failures only) and remembers the device for `deviceTtlSeconds`.
     */
    async recordLoginSuccess(userId: string, sourceKeys: string[], device: { key: string; ttlSeconds: number } | null, now: Date): Promise<void> {
      await db.query(`delete from identity.login_throttles where throttle_key = any($1::text[])`, [sourceKeys]);
      if (device) {
        await db.query(
          `insert into identity.login_devices as d (device_key, user_id, created_at, last_seen_at, expires_at)
           values ($1, $2, $3::timestamptz, $3::timestamptz, $3::timestamptz + make_interval(secs => $4))
           on conflict (device_key) do update set last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`,
          [device.key, userId, now.toISOString(), device.ttlSeconds],
        );
      }
      await db.query(
        `update identity.users set failed_login_count = 0, locked_until = null, updated_at = now() where id = $1 and (failed_login_count <> 0 or locked_until is not null)`,
        [userId],
      );
    },

    /** Drops throttle counters and device records that ran out. Returns the number of rows deleted. */
    async purgeLoginThrottles(now: Date = new Date()): Promise<number> {
      const throttles = await db.query(`delete from identity.login_throttles where expires_at <= $1::timestamptz returning 1`, [now.toISOString()]);
      const devices = await db.query(`delete from identity.login_devices where expires_at <= $1::timestamptz returning 1`, [now.toISOString()]);
      return throttles.length + devices.length;
    },

    /** The profile fields a user edits on the account page; null clears the name. */
    async updateProfile(id: string, profile: { name: string | null }): Promise<User | null> {
      const [row] = await db.query<UserRow>(`update identity.users set name = $2, updated_at = now() where id = $1 returning ${COLUMNS}`, [id, profile.name]);
      return row ? toUser(row) : null;
    },

    /** An administrator's or a link's verdict on the address; changes the `email_verified` claim. */
    async setEmailVerified(id: string, verified: boolean): Promise<boolean> {
      const rows = await db.query(`update identity.users set email_verified = $2, updated_at = now() where id = $1 and email_verified <> $2 returning 1`, [
        id,
        verified,
      ]);
      return rows.length > 0;
    },

    /** A new address is unverified until its link is followed (older verification links die with the old address). */
    async changeEmail(id: string, email: string): Promise<User | null> {
      try {
        const [row] = await db.query<UserRow>(
          `update identity.users set email = $2, email_verified = false, updated_at = now() where id = $1 returning ${COLUMNS}`,
          [id, email.trim()],
        );
        return row ? toUser(row) : null;
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateEmailError(email);
        throw error;
      }
    },

    async setPassword(id: string, password: string, options: { mustChange?: boolean } = {}): Promise<void> {
      const passwordHash = await hashPassword(password);
      await db.query(`update identity.users set password_hash = $2, must_change_password = $3, updated_at = now() where id = $1`, [
        id,
        passwordHash,
        options.mustChange ?? false,
      ]);
    },
  };
}

export type UserQueries = ReturnType<typeof userQueries>;
