/**
 * OAuth 2.0 / OIDC errors. One class per error code; each knows its HTTP status and whether it may be
 * sent back to the client's redirect URI. `errorResponse` in respond.ts is the one place they become
 * HTTP responses.
 */
import { isDatabaseUnavailable } from './domain';
import type { AuditAction } from './audit';
import type { ReusedToken } from './outcome';

/** Every error code the provider answers with (RFC 6749, RFC 6750, RFC 7009, OIDC Core; the last two on error pages only). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_redirect_uri'
  | 'invalid_client_id'
  | 'invalid_target'
  | 'unmet_authentication_requirements';

export class OAuthError extends Error {
  /** False for errors that must be shown to the user instead of redirected (unknown client, bad redirect_uri). */
  readonly redirectable: boolean = true;
  /** The most specific audit action for this failure (e.g. token.code_replayed), with ids as details. */
  audit?: { action: AuditAction; details?: Record<string, unknown> };
  /** Set when the failure is a used refresh token or authorization code presented again (a metric of its own). */
  reusedToken?: ReusedToken;
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status: number = 400,
    options?: { cause?: unknown },
  ) {
    super(description, options);
    this.name = 'OAuthError';
  }
}

export class InvalidRequest extends OAuthError {
  constructor(description = 'The request is missing a required parameter or is otherwise malformed', options?: { cause?: unknown }) {
    super('invalid_request', description, 400, options);
  }
}
export class InvalidClient extends OAuthError {
  /** Set when the client tried HTTP Basic: the 401 then carries `WWW-Authenticate: Basic` (RFC 6749 5.2). */
  usedBasic = false;
  /** The protection space that 401 names (RFC 7617: realm is required): the issuer, for every endpoint taking client credentials. */
  basicRealm?: string;
  constructor(description = 'Client authentication failed') {
    super('invalid_client', description, 401);
  }
}
export class InvalidGrant extends OAuthError {
  constructor(description = 'The grant is invalid, expired, revoked, or was issued to another client', options?: { cause?: unknown }) {
    super('invalid_grant', description, 400, options);
  }
}
export class UnauthorizedClient extends OAuthError {
  constructor(description = 'The client is not allowed to use this grant type') {
    super('unauthorized_client', description, 400);
  }
}
export class UnsupportedGrantType extends OAuthError {
  constructor(description = 'The grant type is not supported') {
    super('unsupported_grant_type', description, 400);
  }
}
export class InvalidScope extends OAuthError {
  constructor(description = 'The requested scope is invalid or exceeds what was granted') {
    super('invalid_scope', description, 400);
  }
}
/** RFC 8707 2: a `resource` that is malformed, unknown, not allowed for the client, or not granted. */
export class InvalidTarget extends OAuthError {
  constructor(description = 'The requested resource is invalid, unknown, or not allowed for this client') {
    super('invalid_target', description, 400);
  }
}
export class UnsupportedResponseType extends OAuthError {
  constructor(description = 'Only response_type=code is supported') {
    super('unsupported_response_type', description, 400);
  }
}
export class AccessDenied extends OAuthError {
  constructor(description = 'The resource owner denied the request') {
    super('access_denied', description, 400);
  }
}
export class LoginRequired extends OAuthError {
  constructor(description = 'End-user authentication is required') {
    super('login_required', description, 400);
  }
}
export class ConsentRequired extends OAuthError {
  constructor(description = 'End-user consent is required') {
    super('consent_required', description, 400);
  }
}
/**
 * OpenID Connect Unmet Authentication Requirements 1.0 (IANA OAuth extensions error registry): an
 * essential acr was requested that this user's sign-in cannot reach.
 */
export class UnmetAuthenticationRequirements extends OAuthError {
  constructor(description = 'The requested authentication level cannot be met for this user') {
    super('unmet_authentication_requirements', description, 400);
  }
}
export class RequestNotSupported extends OAuthError {
  constructor() {
    super('request_not_supported', 'Request objects are not supported', 400);
  }
}
export class RequestUriNotSupported extends OAuthError {
  constructor() {
    super('request_uri_not_supported', 'request_uri is not supported', 400);
  }
}
export class UnsupportedTokenType extends OAuthError {
  constructor(description = 'The token type is not supported') {
    super('unsupported_token_type', description, 400);
  }
}
/** RFC 6750: a bearer token that is missing, malformed, expired or revoked. */
export class InvalidToken extends OAuthError {
  constructor(description = 'The access token is invalid', options?: { cause?: unknown }) {
    super('invalid_token', description, 401, options);
  }
}
/** RFC 6750 3.1: a valid token without the scope the resource needs (403; the challenge names the scope). */
export class InsufficientScope extends OAuthError {
  constructor(
    readonly requiredScope: string,
    description = 'The access token lacks the scope this resource requires',
  ) {
    super('insufficient_scope', description, 403);
  }
}
export class ServerError extends OAuthError {
  constructor(options?: { cause?: unknown }) {
    super('server_error', 'The server encountered an unexpected condition', 500, options);
  }
}
export class TemporarilyUnavailable extends OAuthError {
  constructor(
    description = 'Too many requests; try again later',
    readonly retryAfterSeconds = 60,
    status = 429,
  ) {
    super('temporarily_unavailable', description, status);
  }
}
/** The database cannot answer now (outage, lock, overload): 503 with a short Retry-After, never a 500. */
export class ServiceUnavailable extends TemporarilyUnavailable {
  constructor(options?: { cause?: unknown }) {
    super('The service is temporarily unavailable; try again shortly', 2, 503);
    if (options?.cause) Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false });
  }
}

/** Errors before the redirect URI is trusted: shown on a page, never redirected (RFC 6749 4.1.2.1). */
export class InvalidClientId extends OAuthError {
  override readonly redirectable = false;
  constructor(description = 'Unknown or missing client_id') {
    super('invalid_client_id', description, 400);
  }
}
export class InvalidRedirectUri extends OAuthError {
  override readonly redirectable = false;
  constructor(description = 'redirect_uri is missing or not registered for this client') {
    super('invalid_redirect_uri', description, 400);
  }
}

/**
 * Any thrown value as an OAuthError: a database that cannot answer becomes temporarily_unavailable (503),
 * other unknown errors server_error, their details kept as the cause.
 */
export function asOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  return isDatabaseUnavailable(error) ? new ServiceUnavailable({ cause: error }) : new ServerError({ cause: error });
}

/** Marks an error with the audit action that describes it best. */
export function withAudit<E extends OAuthError>(error: E, action: AuditAction, details?: Record<string, unknown>): E {
  error.audit = { action, details };
  return error;
}
