/*
 * The core's doorway to the data package for what both sides must mean alike: the records the store hands
 * over, the clock, and the rules on stored values. They stay defined in packages/database-identity, which
 * maps SQL rows to them and cannot import the app; the core names them only through this file (and crypto.ts,
 * store.ts for the storage contract), so one place shows what it takes from the package.
 */
export type {
  AccessTokenSubjects,
  AccountTokenCheck,
  AccountTokenPurpose,
  AuthorizationCodeGrant,
  ConsumeAuthorizationCodeResult,
  EmailVerificationOutcome,
  KeyState,
  LifecycleChanges,
  LoginThrottle,
  LoginThrottlePolicy,
  MailMessage,
  MailTemplate,
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
} from '@idp/database-identity';

/** The platform's Date and clock as captured before Next.js wraps the global Date (hot paths read these). */
export { SystemDate, systemNow } from '@idp/database-identity';

/** An outage or a statement past its deadline: the core answers 503 temporarily_unavailable. */
export { isDatabaseUnavailable } from '@idp/database-identity';

/** RFC 8707 2: why a value cannot be a resource identifier (the registry refuses the same values). */
export { resourceIdentifierProblem } from '@idp/database-identity';
