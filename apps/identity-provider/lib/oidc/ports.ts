import type { KeyObject } from 'node:crypto';
import type { AccessTokenSubjects, IdentityStore, OAuthClient, SigningAlg } from '@idp/database-identity';
import type { RateLimiter, RateLimitRule } from '../security/rate-limit';
import type { AuditEvent } from './audit';
import type { VerifiedJwtCache } from './verified-jwts';

/** What the core needs to know about the deployment: a subset of the app's Config. */
export interface ProviderSettings {
  issuer: string;
  /** `aud` of access tokens (RFC 9068): the resource server; the provider itself (userinfo) by default. */
  accessTokenAudience: string;
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
  };
  sessionSecret: string;
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

/** Per-request facts the endpoints need beyond the Request itself. */
export interface RequestContext {
  requestId: string;
  /** Client IP as resolved by the HTTP edge (socket address, or a trusted proxy header). */
  ip: string | null;
  userAgent: string | null;
}

export interface Provider {
  settings: ProviderSettings;
  store: IdentityStore;
  clients: ClientRegistry;
  keys: KeyRing;
  /** Signatures already verified, by exact token string (tokens.ts verifyOwnJwt). */
  verifiedJwts: VerifiedJwtCache;
  /** Subject and revocation state of access tokens, from memory while the revocation epoch stands. */
  accessTokenSubjects: AccessTokenSubjects;
  audit: AuditSink;
  limiter: RateLimiter;
  now: () => Date;
}
