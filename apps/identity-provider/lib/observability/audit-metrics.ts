/**
 * Metrics derived from audit events: every protocol outcome the core reports to its AuditSink is also
 * counted here, so no endpoint carries metric calls of its own. Label values come from the event's
 * action, grant type, reason code and registered client id only (bounded in metrics.ts), never from
 * user ids, e-mail addresses, IPs, request ids or token ids.
 */
import type { AuditAction, AuditEvent } from '../oidc/audit';
import type { AuditSink } from '../oidc/ports';
import type { GrantType, IdpMetrics, MailTemplateLabel, OAuthErrorCode, OAuthStep, RateLimitedEndpoint } from './metrics';
import { noteRefreshGrant } from './request-scope';

/** Failures of a protocol request; their `details.reason` is the OAuth error code returned. */
const FAILURES: ReadonlySet<AuditAction> = new Set<AuditAction>([
  'token.validation_failed',
  'token.expired',
  'token.code_invalid',
  'token.code_replayed',
  'token.pkce_failed',
  'token.refresh_reused',
  'client.auth_failed',
]);

const ISSUED = new Map<AuditAction, GrantType>([
  ['token.issued.authorization_code', 'authorization_code'],
  ['token.issued.refresh_token', 'refresh_token'],
  ['token.issued.client_credentials', 'client_credentials'],
]);

/** Successful endpoint events other than token issuance. */
const SUCCESS_STEP = new Map<AuditAction, OAuthStep>([
  ['token.userinfo_accessed', 'userinfo'],
  ['token.revoked', 'revoke'],
  ['token.introspected', 'introspect'],
  ['auth.logout', 'logout'],
]);

/** `details.endpoint` of failure events -> OAuth step; failures without one come from the token endpoint. */
const ENDPOINT_STEP = new Map<string, OAuthStep>([
  ['token', 'token'],
  ['userinfo', 'userinfo'],
  ['revocation', 'revoke'],
  ['revoke', 'revoke'],
  ['introspection', 'introspect'],
  ['introspect', 'introspect'],
]);

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Applies one audit event to the metrics. Unknown actions are ignored. */
export function recordAuditMetrics(event: AuditEvent, metrics: IdpMetrics): void {
  const { action } = event;
  const details = event.details ?? {};
  const reason = str(details.reason);

  switch (action) {
    case 'auth.login_succeeded':
      metrics.loginAttempt('success');
      return;
    case 'auth.login_failed':
      // one event per attempt; an attempt on an account that is already locked is `locked`
      metrics.loginAttempt(reason === 'locked' ? 'locked' : 'failure');
      return;
    case 'auth.account_locked':
      // emitted next to the auth.login_failed of the attempt that caused the lock: counting it as a
      // login attempt too would count that attempt twice
      return;
    case 'auth.password_changed':
      metrics.passwordChange('password_changed');
      return;
    case 'auth.password_reset_requested':
      metrics.passwordChange('reset_requested');
      return;
    case 'auth.password_reset_completed':
      metrics.passwordChange('reset_completed');
      return;
    case 'auth.password_reset_failed':
      metrics.passwordChange('reset_failed');
      return;
    case 'mail.sent':
    case 'mail.failed':
      metrics.mailDelivery(str(details.template) as MailTemplateLabel, action === 'mail.sent' ? 'sent' : details.final === true ? 'failed' : 'retry');
      return;
    case 'token.refreshed':
      metrics.refresh('success');
      return;
    case 'security.rate_limited': {
      const endpoint = str(details.endpoint);
      if (endpoint) metrics.rateLimited(endpoint as RateLimitedEndpoint);
      // the token endpoint answers a refused request with the OAuth error temporarily_unavailable
      const step = endpoint ? ENDPOINT_STEP.get(endpoint) : undefined;
      if (step) {
        metrics.oauthStep(step, 'failure');
        metrics.error((reason ?? 'temporarily_unavailable') as OAuthErrorCode);
      }
      return;
    }
  }

  const grantType = ISSUED.get(action);
  if (grantType) {
    metrics.tokenIssued(grantType, event.clientId ?? '');
    metrics.oauthStep('token', 'success');
    return;
  }
  const step = SUCCESS_STEP.get(action);
  if (step) {
    metrics.oauthStep(step, 'success');
    return;
  }
  if (FAILURES.has(action)) {
    if (reason) metrics.error(reason as OAuthErrorCode);
    const endpoint = str(details.endpoint);
    metrics.oauthStep((endpoint && ENDPOINT_STEP.get(endpoint)) || 'token', 'failure');
    if (action === 'token.refresh_reused') {
      metrics.refresh('reuse_detected');
      metrics.tokenReuseDetected('refresh_token');
    } else if (action === 'token.code_replayed') {
      metrics.tokenReuseDetected('authorization_code');
    } else if (event.grantType === 'refresh_token' && !endpoint) {
      metrics.refresh('failure');
    }
  }
}

// A property keyed by a global symbol, not a WeakMap: Next's route handlers load their own copy of this
// module but receive the sink built by the server's copy.
const METRICS = Symbol.for('identity-provider.audit-metrics');
type MeteredSink = AuditSink & { [METRICS]?: IdpMetrics };

/**
 * Decorates an AuditSink: every event is forwarded unchanged, then counted. A failure in the metrics
 * never reaches the request (the event has been handed to the sink already).
 */
export function withMetrics(sink: AuditSink, metrics: IdpMetrics): AuditSink {
  const decorated: MeteredSink = {
    record(event) {
      sink.record(event);
      try {
        // the edge times refresh grants; the body (and so the grant type) is only parsed by the core
        if (event.grantType === 'refresh_token' && event.requestId) noteRefreshGrant(event.requestId);
        recordAuditMetrics(event, metrics);
      } catch {
        // metrics are best effort
      }
    },
  };
  decorated[METRICS] = metrics;
  return decorated;
}

/** The metrics behind a sink built by withMetrics, if any (the HTTP edge finds them on provider.audit). */
export function metricsOf(sink: AuditSink): IdpMetrics | undefined {
  return (sink as MeteredSink)[METRICS];
}
