/**
 * Audit events as the core produces them. Names follow the token-audit story (`token.*`) extended with
 * client, auth and security events. Details carry ids (jti, family id), reasons and counts: never token
 * values, codes, secrets or passwords.
 */
export type AuditAction =
  | 'token.issued.authorization_code'
  | 'token.issued.refresh_token'
  | 'token.issued.client_credentials'
  | 'token.refreshed'
  | 'token.userinfo_accessed'
  | 'token.revoked'
  | 'token.introspected'
  | 'token.validation_failed'
  | 'token.expired'
  | 'token.code_invalid'
  | 'token.code_replayed'
  | 'token.pkce_failed'
  | 'token.refresh_reused'
  | 'client.auth_failed'
  | 'auth.login_succeeded'
  | 'auth.login_failed'
  | 'auth.account_locked'
  | 'auth.logout'
  | 'auth.password_changed'
  // the account page: a user ends one of their sessions, disconnects an app, edits their profile
  | 'auth.session_ended'
  | 'auth.app_revoked'
  | 'auth.profile_updated'
  | 'auth.password_reset_requested'
  | 'auth.password_reset_completed'
  | 'auth.password_reset_failed'
  | 'auth.email_verification_sent'
  | 'auth.email_verified'
  | 'mail.sent'
  | 'mail.failed'
  | 'auth.mfa_enrolled'
  | 'auth.mfa_removed'
  | 'auth.mfa_failed'
  | 'auth.mfa_succeeded'
  | 'auth.passkey_registered'
  | 'auth.passkey_removed'
  | 'auth.recovery_code_used'
  | 'security.rate_limited'
  | 'security.suspicious'
  | 'key.published'
  | 'key.activated'
  | 'key.retired'
  /** Admin console and CLI actions: details name the acting admin (admin_id) and the target (target_id). */
  | `admin.${string}`;

export interface AuditEvent {
  action: AuditAction;
  userId?: string | null;
  clientId?: string | null;
  grantType?: string | null;
  scopes?: string[] | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** What the event is about when it is not a token (e.g. `signing_key` and its kid). */
  resourceType?: string;
  resourceId?: string;
  /**
   * Issued-token events: the token's audience (RFC 8707 resource): the resource server's identifier, or for a
   * token for several the sorted identifiers joined by one space. Absent or null: the provider's default
   * audience. Analytics count it per API (audit_logs.audience).
   */
  audience?: string | null;
  /** jti, family_id, issued_at, expires_at, reason, counts... */
  details?: Record<string, unknown>;
  /** Event time; defaults to when the writer receives it. */
  at?: Date;
}
