import type { KeyObject } from 'node:crypto';
import type { AccessTokenSubjects, MailMessage, MailTemplate, OAuthClient, ResourceServer, SigningAlg } from './domain';
import type { ProtocolStore } from './store';
import type { RateLimiter, RateLimitRule } from '../security/rate-limit';
import type { AuditEvent } from './audit';
import type { RequestOutcome } from './outcome';
import type { VerifiedJwtCache } from './verified-jwts';

/** What the core needs to know about the deployment: a subset of the app's Config. */
export interface ProviderSettings {
  issuer: string;
  /**
   * `aud` of access tokens issued without `resource` (RFC 9068): the provider itself (userinfo). Tokens for
   * a registered resource server (RFC 8707) carry its identifier instead.
   */
  accessTokenAudience: string;
  /** Alg of default-audience access tokens unless the client chose one (access_token_signed_response_alg). */
  accessTokenAlg: SigningAlg;
  ttl: { accessToken: number; idToken: number; refreshToken: number; authorizationCode: number; session: number };
  login: { maxFailures: number; lockSeconds: number };
  /** Roles that must pass a second factor, and how long a user of such a role may sign in without one. */
  mfa: { requiredRoles: string[]; enrolmentGraceDays: number };
  rateLimits: {
    loginPerAccount: RateLimitRule;
    loginPerIp: RateLimitRule;
    tokenPerClient: RateLimitRule;
    tokenPerIp: RateLimitRule;
    passwordChange: RateLimitRule;
    passwordResetPerAccount: RateLimitRule;
    passwordResetPerIp: RateLimitRule;
  };
  /** PASSWORD_MIN_LENGTH: every password set goes through lib/security/password-policy.ts with it. */
  passwordMinLength: number;
  recovery: { resetTtlSeconds: number; verificationTtlSeconds: number };
  /** Whether /dev/outbox may be served (development without SMTP). */
  devOutbox: boolean;
  sessionSecret: string;
  /** Cache-Control max-age of the JWKS: below the time a new key is published before it signs. */
  jwksMaxAgeSeconds: number;
  /** Secure cookies unless the issuer is plain http on localhost. */
  secureCookies: boolean;
}

/** Registered clients, served from memory; the registry notices changes made by any instance. */
export interface ClientRegistry {
  get(clientId: string): Promise<OAuthClient | null>;
  /** Origins of every registered redirect URI: the browser origins CORS may answer. */
  origins(): Promise<ReadonlySet<string>>;
  /** Registered client ids (bounded label values for metrics). */
  ids(): ReadonlySet<string>;
}

/** The resource servers (RFC 8707) as the core reads them: by identifier, and which define each scope. */
export interface ResourceIndex {
  byIdentifier: ReadonlyMap<string, ResourceServer>;
  /** scope -> identifiers of the resource servers that define it */
  scopeOwners: ReadonlyMap<string, readonly string[]>;
  /** Token targets computed for this index (steps/resource.ts), memoised by resource set. */
  targets: Map<string, unknown>;
}

/** Registered resource servers, served from memory; changes by any instance are seen within the poll interval. */
export interface ResourceRegistry {
  /** The current index; `identifiers` not in it make the registry look again (a server registered moments ago). */
  index(identifiers?: readonly string[]): Promise<ResourceIndex>;
  /** The next call checks the database first: call it after changing resource servers in this process. */
  invalidate(): void;
}

/** Keys as node:crypto KeyObjects: synchronous signing is about 2.5x cheaper than WebCrypto's thread-pool round trip. */
export interface SigningKeyHandle {
  kid: string;
  alg: SigningAlg;
  key: KeyObject;
}

export interface KeyRing {
  signingKey(alg: SigningAlg): Promise<SigningKeyHandle>;
  /** Public key for a kid among the published keys, or null. */
  verificationKey(kid: string, alg: string): Promise<KeyObject | null>;
  /** The JWKS document, pre-serialised, with a validator for conditional GETs. */
  jwks(): Promise<{ body: string; etag: string }>;
}

/** Where audit events go: enqueued, never awaited on the request path. */
export interface AuditSink {
  record(event: AuditEvent): void;
}

/** Outgoing mail: queued (sealed) in the database and delivered by a worker with retries. */
export interface MailSender {
  send(input: { template: MailTemplate; userId: string | null; message: MailMessage }): Promise<void>;
}

/** Per-request facts the endpoints need beyond the Request itself. */
export interface RequestContext {
  requestId: string;
  /** Client IP as resolved by the HTTP edge (socket address, or a trusted proxy header). */
  ip: string | null;
  userAgent: string | null;
  /** What the request came to, set by the endpoint through reportOutcome (outcome.ts) and read by the HTTP edge. */
  outcome?: RequestOutcome;
}

export interface Provider {
  settings: ProviderSettings;
  /** The storage the core relies on (store.ts); lib/container.ts hands over the data package's store. */
  store: ProtocolStore;
  clients: ClientRegistry;
  resources: ResourceRegistry;
  keys: KeyRing;
  /** Signatures already verified, by exact token string (tokens.ts verifyOwnJwt). */
  verifiedJwts: VerifiedJwtCache;
  /** Subject and revocation state of access tokens, from memory while the revocation epoch stands. */
  accessTokenSubjects: AccessTokenSubjects;
  audit: AuditSink;
  limiter: RateLimiter;
  mail: MailSender;
  now: () => Date;
}
