import type { JsonWebKey } from 'node:crypto';
import type { KeyedDigests } from './crypto';
import type {
  AccountTokenCheck,
  AccountTokenPurpose,
  ConsumeAuthorizationCodeResult,
  EmailVerificationOutcome,
  LifecycleChanges,
  LoginThrottle,
  LoginThrottlePolicy,
  NewAuthorizationCode,
  NewRefreshToken,
  NewSession,
  NewWebAuthnCredential,
  OAuthClient,
  PasswordResetOutcome,
  RefreshTokenInfo,
  ResourceServer,
  RotateRefreshTokenResult,
  RotationPolicy,
  ScheduledRotation,
  SecondFactorState,
  Session,
  SigningAlg,
  SigningKey,
  User,
  UserWithPasswordHash,
  WebAuthnChallengePurpose,
  WebAuthnCredential,
} from './domain';

/*
 * The storage the protocol core relies on, in the core's terms: exactly the methods it calls, each with the
 * race rule it counts on. packages/database-identity implements them (one SQL statement each unless said
 * otherwise); lib/container.ts and test-provider.ts hand its IdentityStore over, and the compiler checks that
 * it fits. A method the core starts to use is added here first, with its race rule.
 */

/** Users and the sign-in throttle. Keys of throttles and devices are keyed digests made by the caller. */
export interface UserStore {
  findById(id: string): Promise<User | null>;
  /** Case-insensitive. The password hash is for the login check only, never handed further. */
  findByEmailForLogin(email: string): Promise<UserWithPasswordHash | null>;
  /**
   * The live throttle counters among `keys`, and whether `deviceKey` signed in to this account before: one
   * read, made before any password hash is computed. `now` is the caller's clock.
   */
  loginThrottleState(keys: string[], deviceKey: string | null, now: Date): Promise<{ throttles: Map<string, LoginThrottle>; deviceRecognised: boolean }>;
  /**
   * Counts one failed sign-in for its source and, when given, the account-wide backstop: one upsert per
   * counter, so concurrent failures each count (atomic per row, the two rows not together).
   */
  recordLoginFailure(
    sourceKey: string,
    accountKey: string | null,
    policy: LoginThrottlePolicy,
    now: Date,
  ): Promise<{ source: LoginThrottle; account: LoginThrottle | null }>;
  /**
   * Forgets the failures of the sign-in's sources (never the backstop's), remembers the device and clears
   * the user's lock: separate idempotent statements, so a failure counted meanwhile may survive.
   */
  recordLoginSuccess(userId: string, sourceKeys: string[], device: { key: string; ttlSeconds: number } | null, now: Date): Promise<void>;
  /** Hashes (scrypt) and stores the password; of concurrent changes the last one stays. */
  setPassword(id: string, password: string, options?: { mustChange?: boolean }): Promise<void>;
}

/** Browser sessions at the provider. */
export interface SessionStore {
  /** Starts a session with a fresh 256-bit sid (a malformed IP address is dropped, not refused). */
  create(input: NewSession): Promise<Session>;
  /**
   * The session if neither revoked nor expired. The same statement records that it was seen, at most once
   * per minute per session, so most lookups write nothing.
   */
  findActive(sid: string): Promise<Session | null>;
  /** Replaces amr and acr of a session not revoked (a factor added to it); of concurrent calls the last one stays. */
  elevate(sid: string, amr: string[], acr: string): Promise<void>;
  /** Ends a session (logout). True when this call ended it and it had not expired; a concurrent second call gets false. */
  revoke(sid: string): Promise<boolean>;
  /** Ends every live session of the user but `keepSid`, in one statement; concurrent callers count each session once. */
  revokeOthersOfUser(userId: string, keepSid: string | null): Promise<number>;
}

/** What users let clients do. */
export interface ConsentStore {
  /** Scopes the user granted the client; [] when none. */
  find(userId: string, clientId: string): Promise<string[]>;
  /** Consent only widens: the stored set becomes the union, in one upsert, so concurrent grants cannot lose scopes. */
  grant(userId: string, clientId: string, scopes: string[]): Promise<void>;
}

/**
 * Authorization codes, refresh tokens and their token families. Codes and tokens are handed over raw; only
 * their keyed digests are stored. Every multi-row change is one statement (data-modifying CTEs); races are
 * settled by row locks on the UPDATE: of concurrent callers exactly one matches, the others see the
 * committed row. Every revocation is also signalled to this process's Provider.accessTokenSubjects, whose
 * next lookup then reads the revocation epoch afresh.
 */
export interface GrantStore {
  /** Creates a token family and its authorization code in one statement. */
  createAuthorizationCode(input: NewAuthorizationCode): Promise<{ familyId: string }>;
  /**
   * Redeems a code: exactly one caller ever gets `ok`. A redeemed code presented again revokes its family
   * (`replayed`, RFC 6749 4.1.2); an expired one is burnt and stays `expired` on later attempts; `revoked`
   * when its family was revoked meanwhile.
   */
  consumeAuthorizationCode(code: string): Promise<ConsumeAuthorizationCodeResult>;
  issueRefreshToken(input: NewRefreshToken): Promise<{ expiresAt: Date }>;
  /**
   * Exchanges `presented` for `replacement` in one statement. A rotated token presented again is reuse
   * (RFC 9700 4.14): the whole family is revoked, the newest token included. Of two concurrent rotations of
   * one token, one succeeds and the other is treated as reuse.
   */
  rotateRefreshToken(presented: string, replacement: string, ttlSeconds: number): Promise<RotateRefreshTokenResult>;
  /** Looks a refresh token up without changing it (introspection, revocation); null when unknown. */
  findRefreshToken(token: string): Promise<RefreshTokenInfo | null>;
  /**
   * Revokes a family unless it already is (the first reason is kept). Returns how many of its refresh tokens
   * were still usable: 0 when already revoked, so concurrent revocations count each token once.
   */
  revokeFamily(familyId: string, reason: string): Promise<number>;
  /** Revokes every family of the user in one statement, counted as revokeFamily counts. */
  revokeUserGrants(userId: string, reason: string): Promise<number>;
  /** Revokes one JWT access token by jti until it expires; idempotent (a second call changes nothing). */
  revokeAccessToken(jti: string, expiresAt: Date): Promise<void>;
}

/**
 * Passkeys, TOTP, recovery codes, WebAuthn challenges and the MFA policy's rows. Secrets are handed over in
 * plaintext: TOTP secrets are stored encrypted, recovery codes and challenges as keyed digests.
 */
export interface AuthenticatorStore {
  /** Everything the sign-in and the MFA policy ask about a user (and a client), in one read. */
  secondFactors(userId: string, clientId?: string | null): Promise<SecondFactorState>;
  /** Starts the user's enrolment grace period once (an existing start is kept); returns when it started. */
  requestEnrolment(userId: string, now: Date): Promise<Date>;
  listPasskeys(userId: string): Promise<WebAuthnCredential[]>;
  findPasskeyByCredentialId(credentialId: string): Promise<WebAuthnCredential | null>;
  /** Null when that credential id is registered already, to anyone: of concurrent registrations one gets the row. */
  addPasskey(input: NewWebAuthnCredential): Promise<WebAuthnCredential | null>;
  /** After a verified assertion: the new signature counter and when. A plain update (the caller verified the counter). */
  recordPasskeyUse(id: string, signCount: number, backedUp: boolean, now: Date): Promise<void>;
  /** False when the passkey is not the user's. */
  renamePasskey(userId: string, id: string, name: string): Promise<boolean>;
  /** False when the passkey is not the user's (or already gone). */
  removePasskey(userId: string, id: string): Promise<boolean>;
  /** Stores a challenge for `ttlSeconds`, bound to the browser that asked for it (its `binding`). */
  saveChallenge(input: {
    challenge: string;
    purpose: WebAuthnChallengePurpose;
    userId: string | null;
    binding: string;
    ttlSeconds: number;
    now: Date;
  }): Promise<void>;
  /**
   * Redeems a challenge: deleted whatever the outcome, so of concurrent redemptions at most one succeeds.
   * Its user (null: passwordless) when it was live, for this purpose and this browser; otherwise undefined.
   */
  consumeChallenge(challenge: string, purpose: WebAuthnChallengePurpose, binding: string, now: Date): Promise<{ userId: string | null } | undefined>;
  /** A new unconfirmed secret, replacing an unconfirmed one; false (nothing changed) while a confirmed one is active. */
  beginTotp(userId: string, secret: string): Promise<boolean>;
  /** The decrypted secret, whether it is confirmed, and the newest time step accepted. */
  totpOf(userId: string): Promise<{ secret: string; confirmed: boolean; lastUsedStep: number | null } | null>;
  /**
   * Accepts the code of time step `step` once: true only for the caller that moved the last used step past
   * every step accepted before (a replayed or older code is refused, also under concurrency). `confirm`
   * activates an unconfirmed authenticator (enrolment); otherwise only a confirmed one counts.
   */
  acceptTotpStep(userId: string, step: number, options: { confirm: boolean; now: Date }): Promise<boolean>;
  /** True when there was an authenticator app to remove. */
  removeTotp(userId: string): Promise<boolean>;
  /** Replaces the user's recovery codes (normalised by the caller) in one statement: old and new never coexist. */
  replaceRecoveryCodes(userId: string, codes: string[]): Promise<void>;
  /** Spends one recovery code: true once per code, also under concurrency; false for an unknown or used one. */
  useRecoveryCode(userId: string, code: string, now: Date): Promise<boolean>;
  removeRecoveryCodes(userId: string): Promise<void>;
}

/**
 * Password-reset and e-mail-verification links (lib/recovery, behind the core's recovery endpoints). The
 * caller passes keyed digests, never the token; `now` is the caller's clock. A token is bound to the user's
 * current password hash (reset) or address (verification): changing either kills older links.
 */
export interface AccountTokenStore {
  /** Stores a new token and drops the user's older ones of that purpose, in one statement. Null when the user does not exist. */
  issue(input: { tokenDigest: string; userId: string; purpose: AccountTokenPurpose; ttlSeconds: number; now: Date }): Promise<{ expiresAt: Date } | null>;
  /** Whether a token would be accepted now, without using it. */
  check(tokenDigest: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenCheck>;
  /**
   * Uses a reset token and sets the (already hashed) password in one statement: the token is deleted
   * whatever its state (single use), the password changes only when it was live and still bound, the
   * user's other reset tokens go too. Of concurrent uses one wins.
   */
  consumePasswordReset(tokenDigest: string, newPasswordHash: string, now: Date): Promise<PasswordResetOutcome>;
  /** Uses a verification token in one statement (deleted whatever its state): the address is verified when the token was live and the address unchanged. */
  consumeEmailVerification(tokenDigest: string, now: Date): Promise<EmailVerificationOutcome>;
}

/** The store behind Provider.store. */
export interface ProtocolStore {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly consents: ConsentStore;
  readonly grants: GrantStore;
  readonly authenticators: AuthenticatorStore;
  readonly accountTokens: AccountTokenStore;
  /** Keyed digests: rate-limit and throttle keys, client secrets. */
  readonly box: KeyedDigests;
}

/*
 * The sources of the in-memory caches (clients.ts, resources.ts, keys.ts) and of key rotation. They are
 * read by polling: `version` is a cheap fingerprint of the table, the full read follows only when it moved.
 */

export interface ClientSource {
  /** Latest change time and count over all clients. */
  version(): Promise<string>;
  /** Every client, disabled ones included. */
  list(): Promise<OAuthClient[]>;
}

export interface ResourceServerSource {
  /** Latest change time and count over all resource servers. */
  version(): Promise<string>;
  list(): Promise<ResourceServer[]>;
}

export interface SigningKeySource {
  /** Fingerprint of the key set and its schedule. */
  version(): Promise<string>;
  /**
   * In one read: every key not retired, the private halves of those that sign now or will (next and
   * active), and the database time, against which activation is decided.
   */
  loadKeyRing(): Promise<{ databaseNow: Date; keys: (SigningKey & { privateJwk: JsonWebKey | null })[] }>;
}

/**
 * Signing-key lifecycle changes (key-rotation.ts). Each runs in one transaction under an advisory lock shared
 * by every instance and the CLI; `at` replaces the database's now() (tests).
 */
export interface SigningKeyLifecycle {
  /**
   * One round of automatic rotation: records the transitions that are due, then publishes a successor for
   * every algorithm whose active key is due. An instance that does not get the lock skips (`ran` false).
   */
  runScheduledRotation(policy: RotationPolicy, at?: Date | null): Promise<LifecycleChanges & { ran: boolean }>;
  /**
   * Publishes a successor that signs `publishAheadSeconds` from now; the current key stays published for
   * `keepPublishedSeconds` more. Waits for the lock; returns the already scheduled successor if there is one.
   */
  scheduleRotation(
    alg: SigningAlg,
    policy: Pick<RotationPolicy, 'publishAheadSeconds' | 'keepPublishedSeconds'>,
    at?: Date | null,
  ): Promise<ScheduledRotation & LifecycleChanges>;
  /** Emergency rotation: a successor signs from now on; the replaced key stays published for `keepPublishedSeconds`. Waits for the lock. */
  rotateImmediately(alg: SigningAlg, keepPublishedSeconds: number, at?: Date | null): Promise<ScheduledRotation & LifecycleChanges>;
}
