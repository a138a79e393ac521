import type { SecretBox } from '../crypto/secrets';
import type { Queryable } from '../driver';

/** A registered passkey (WebAuthn credential). The public key is public; nothing here signs anything. */
export interface WebAuthnCredential {
  id: string;
  userId: string;
  /** base64url credential id, as the authenticator reports it. */
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface NewWebAuthnCredential {
  userId: string;
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
}

export type WebAuthnChallengePurpose = 'register' | 'passwordless' | 'second_factor';

/** Which second factors a user has, and what the MFA policy recorded about them. */
export interface SecondFactorState {
  passkeys: number;
  totp: boolean;
  recoveryCodesLeft: number;
  /** When the policy first asked this user to enrol (grace period start), if it did. */
  enrolmentRequestedAt: Date | null;
  /** Whether the client asked about (if any) requires a second factor. */
  clientRequiresMfa: boolean;
}

type CredentialRow = {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Uint8Array;
  sign_count: string | number;
  transports: string[];
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
};

const CREDENTIAL_COLUMNS = 'id, user_id, credential_id, public_key, sign_count, transports, device_type, backed_up, name, created_at, last_used_at';

function toCredential(row: CredentialRow): WebAuthnCredential {
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: new Uint8Array(row.public_key),
    signCount: Number(row.sign_count),
    transports: row.transports,
    deviceType: row.device_type,
    backedUp: row.backed_up,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Recovery codes per set. */
export const RECOVERY_CODE_COUNT = 10;

/**
 * Passkeys, TOTP, recovery codes, WebAuthn challenges and the MFA policy's rows. TOTP secrets are
 * encrypted with the SecretBox; recovery codes and challenges are stored as its keyed digests, so the
 * caller hands in plaintext and never gets a stored secret back except the decrypted TOTP secret.
 */
export function authenticatorQueries(db: Queryable, box: SecretBox) {
  const recoveryDigest = (userId: string, code: string) => box.digest(`recovery:${userId}:${code}`);
  const challengeDigest = (challenge: string) => box.digest(`webauthn-challenge:${challenge}`);

  return {
    /** Everything the sign-in and the MFA policy ask about a user (and a client), in one round trip. */
    async secondFactors(userId: string, clientId: string | null = null): Promise<SecondFactorState> {
      const [row] = await db.query<{ passkeys: number; totp: boolean; recovery_left: number; requested_at: Date | null; client_requires: boolean }>(
        `select (select count(*)::int from identity.webauthn_credentials where user_id = $1) as passkeys,
                exists (select 1 from identity.totp_authenticators where user_id = $1 and confirmed_at is not null) as totp,
                (select count(*)::int from identity.recovery_codes where user_id = $1 and used_at is null) as recovery_left,
                (select requested_at from identity.mfa_enrolment_requests where user_id = $1) as requested_at,
                exists (select 1 from identity.clients_requiring_mfa where client_id = $2) as client_requires`,
        [userId, clientId],
      );
      return {
        passkeys: row.passkeys,
        totp: row.totp,
        recoveryCodesLeft: row.recovery_left,
        enrolmentRequestedAt: row.requested_at,
        clientRequiresMfa: row.client_requires,
      };
    },

    /** Starts the user's grace period, once; returns when it started. */
    async requestEnrolment(userId: string, now: Date): Promise<Date> {
      const [row] = await db.query<{ requested_at: Date }>(
        `with inserted as (
           insert into identity.mfa_enrolment_requests (user_id, requested_at) values ($1, $2::timestamptz)
           on conflict (user_id) do nothing returning requested_at
         )
         select requested_at from inserted
         union all select requested_at from identity.mfa_enrolment_requests where user_id = $1
         limit 1`,
        [userId, now.toISOString()],
      );
      return row.requested_at;
    },

    async clientRequiresMfa(clientId: string): Promise<boolean> {
      const [row] = await db.query<{ required: boolean }>(`select exists (select 1 from identity.clients_requiring_mfa where client_id = $1) as required`, [
        clientId,
      ]);
      return row.required;
    },

    async setClientRequiresMfa(clientId: string, required: boolean): Promise<void> {
      if (required) await db.query(`insert into identity.clients_requiring_mfa (client_id) values ($1) on conflict do nothing`, [clientId]);
      else await db.query(`delete from identity.clients_requiring_mfa where client_id = $1`, [clientId]);
    },

    // --- WebAuthn -------------------------------------------------------------------------------------

    async listPasskeys(userId: string): Promise<WebAuthnCredential[]> {
      const rows = await db.query<CredentialRow>(`select ${CREDENTIAL_COLUMNS} from identity.webauthn_credentials where user_id = $1 order by created_at, id`, [
        userId,
      ]);
      return rows.map(toCredential);
    },

    async findPasskeyByCredentialId(credentialId: string): Promise<WebAuthnCredential | null> {
      if (credentialId.length > 1366) return null;
      const [row] = await db.query<CredentialRow>(`select ${CREDENTIAL_COLUMNS} from identity.webauthn_credentials where credential_id = $1`, [credentialId]);
      return row ? toCredential(row) : null;
    },

    /** Null when that credential id is registered already (to anyone). */
    async addPasskey(input: NewWebAuthnCredential): Promise<WebAuthnCredential | null> {
      const rows = await db.query<CredentialRow>(
        `insert into identity.webauthn_credentials (user_id, credential_id, public_key, sign_count, transports, device_type, backed_up, name)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (credential_id) do nothing
         returning ${CREDENTIAL_COLUMNS}`,
        [input.userId, input.credentialId, input.publicKey, input.signCount, input.transports, input.deviceType, input.backedUp, input.name],
      );
      return rows[0] ? toCredential(rows[0]) : null;
    },

    /** After a verified assertion: the new signature counter (WebAuthn 7.2 step 21) and when. */
    async recordPasskeyUse(id: string, signCount: number, backedUp: boolean, now: Date): Promise<void> {
      await db.query(`update identity.webauthn_credentials set sign_count = $2, backed_up = $3, last_used_at = $4::timestamptz where id = $1`, [
        id,
        signCount,
        backedUp,
        now.toISOString(),
      ]);
    },

    async renamePasskey(userId: string, id: string, name: string): Promise<boolean> {
      if (!UUID.test(id)) return false;
      const rows = await db.query(`update identity.webauthn_credentials set name = $3 where user_id = $1 and id = $2 returning 1`, [userId, id, name]);
      return rows.length > 0;
    },

    async removePasskey(userId: string, id: string): Promise<boolean> {
      if (!UUID.test(id)) return false;
      const rows = await db.query(`delete from identity.webauthn_credentials where user_id = $1 and id = $2 returning 1`, [userId, id]);
      return rows.length > 0;
    },

    /** Stores a challenge (as a digest) for `ttlSeconds`, bound to the browser that asked for it. */
    async saveChallenge(input: {
      challenge: string;
      purpose: WebAuthnChallengePurpose;
      userId: string | null;
      binding: string;
      ttlSeconds: number;
      now: Date;
    }): Promise<void> {
      await db.query(
        `insert into identity.webauthn_challenges (challenge_hash, purpose, user_id, binding, created_at, expires_at)
         values ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + make_interval(secs => $6))`,
        [
          challengeDigest(input.challenge),
          input.purpose,
          input.userId,
          box.digest(`webauthn-binding:${input.binding}`),
          input.now.toISOString(),
          input.ttlSeconds,
        ],
      );
    },

    /**
     * Redeems a challenge: deleted whatever the outcome, so it is used once. Returns its user (null for
     * passwordless) when it was live, for this purpose and issued to this browser; otherwise undefined.
     */
    async consumeChallenge(challenge: string, purpose: WebAuthnChallengePurpose, binding: string, now: Date): Promise<{ userId: string | null } | undefined> {
      if (challenge.length > 256) return undefined;
      const [row] = await db.query<{ user_id: string | null; purpose: string; binding: string; live: boolean }>(
        `delete from identity.webauthn_challenges where challenge_hash = $1
         returning user_id, purpose, binding, expires_at > $2::timestamptz as live`,
        [challengeDigest(challenge), now.toISOString()],
      );
      if (!row || !row.live || row.purpose !== purpose || !box.matchesDigest(`webauthn-binding:${binding}`, row.binding)) return undefined;
      return { userId: row.user_id };
    },

    // --- TOTP -----------------------------------------------------------------------------------------

    /** A new, unconfirmed secret (replacing an unconfirmed one; a confirmed one stays until removed). Null if one is active. */
    async beginTotp(userId: string, secret: string): Promise<boolean> {
      const rows = await db.query(
        `insert into identity.totp_authenticators as t (user_id, secret_encrypted) values ($1, $2)
         on conflict (user_id) do update set secret_encrypted = excluded.secret_encrypted, created_at = now(), last_used_step = null
           where t.confirmed_at is null
         returning 1`,
        [userId, box.encrypt(secret)],
      );
      return rows.length > 0;
    },

    /** The decrypted secret, whether it is confirmed, and the newest step accepted. */
    async totpOf(userId: string): Promise<{ secret: string; confirmed: boolean; lastUsedStep: number | null } | null> {
      const [row] = await db.query<{ secret_encrypted: string; confirmed_at: Date | null; last_used_step: string | number | null }>(
        `select secret_encrypted, confirmed_at, last_used_step from identity.totp_authenticators where user_id = $1`,
        [userId],
      );
      if (!row) return null;
      return {
        secret: box.decrypt(row.secret_encrypted),
        confirmed: row.confirmed_at !== null,
        lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
      };
    },

    /**
     * Accepts the code of time step `step` once: true only for the caller that moved last_used_step past
     * every step accepted before (a replayed or older code is refused, also under concurrency). `confirm`
     * activates an unconfirmed authenticator (enrolment); otherwise only a confirmed one counts.
     */
    async acceptTotpStep(userId: string, step: number, options: { confirm: boolean; now: Date }): Promise<boolean> {
      const rows = await db.query(
        `update identity.totp_authenticators
            set last_used_step = $2, confirmed_at = case when $3::boolean then coalesce(confirmed_at, $4::timestamptz) else confirmed_at end
          where user_id = $1 and (last_used_step is null or last_used_step < $2)
            and (case when $3::boolean then confirmed_at is null else confirmed_at is not null end)
          returning 1`,
        [userId, step, options.confirm, options.now.toISOString()],
      );
      return rows.length > 0;
    },

    async removeTotp(userId: string): Promise<boolean> {
      const rows = await db.query(`delete from identity.totp_authenticators where user_id = $1 returning confirmed_at is not null as was_active`, [userId]);
      return rows.length > 0;
    },

    // --- recovery codes -------------------------------------------------------------------------------

    /** Replaces the user's recovery codes with `codes` (normalised by the caller); stored as digests only. */
    async replaceRecoveryCodes(userId: string, codes: string[]): Promise<void> {
      // one statement: the old set and the new never coexist, and a failure leaves the old one
      await db.query(
        `with old as (delete from identity.recovery_codes where user_id = $1)
         insert into identity.recovery_codes (code_hash, user_id) select unnest($2::text[]), $1`,
        [userId, codes.map((code) => recoveryDigest(userId, code))],
      );
    },

    /** Spends one recovery code: true once per code, false for an unknown or used one. */
    async useRecoveryCode(userId: string, code: string, now: Date): Promise<boolean> {
      const rows = await db.query(
        `update identity.recovery_codes set used_at = $3::timestamptz where code_hash = $2 and user_id = $1 and used_at is null returning 1`,
        [userId, recoveryDigest(userId, code), now.toISOString()],
      );
      return rows.length > 0;
    },

    async removeRecoveryCodes(userId: string): Promise<void> {
      await db.query(`delete from identity.recovery_codes where user_id = $1`, [userId]);
    },

    /** Drops challenges that ran out. */
    async purgeExpired(now: Date = new Date()): Promise<number> {
      const rows = await db.query(`delete from identity.webauthn_challenges where expires_at <= $1::timestamptz returning 1`, [now.toISOString()]);
      return rows.length;
    },
  };
}

export type AuthenticatorQueries = ReturnType<typeof authenticatorQueries>;
