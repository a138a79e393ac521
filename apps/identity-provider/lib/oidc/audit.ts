/**
 * Audit events as the core produces them. Names follow the token-audit story (`token.*`) extended with
 * client, auth and security events. Details carry ids (jti, family id), reasons and counts: never token
 * values, codes, secrets or passwords.
 */
export type AuditAction =
  | 'token.issued.authorization_code' | 'token.issued.refresh_token' | 'token.issued.client_credentials'
  | 'token.refreshed' | 'token.userinfo_accessed' | 'token.revoked' | 'token.introspected'
  | 'token.validation_failed' | 'token.expired' | 'token.code_invalid' | 'token.code_replayed'
  | 'token.pkce_failed' | 'token.refresh_reused'
  | 'client.auth_failed'
  | 'auth.login_succeeded' | 'auth.login_failed' | 'auth.account_locked' | 'auth.logout' | 'auth.password_changed'
  | 'security.rate_limited' | 'security.suspicious'
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
  /** jti, family_id, issued_at, expires_at, reason, counts... */
  details?: Record<string, unknown>;
  /** Event time; defaults to when the writer receives it. */
  at?: Date;
}
