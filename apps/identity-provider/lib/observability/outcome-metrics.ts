/**
 * Request outcomes -> Prometheus metrics. The endpoint that handled a request reports what it came to
 * (lib/oidc/outcome.ts); the HTTP edge, or the account API's route wrapper, hands it here with the route's
 * operation. Label values come from the outcome's fixed unions and the registered client id only (bounded
 * again in metrics.ts), never from user ids, e-mail addresses, IPs, request ids or token ids.
 */
import type { Operation, RequestOutcome } from '../oidc/outcome';
import { OAUTH_STEPS, type IdpMetrics, type OAuthStep } from './metrics';

const isOAuthStep = (operation: Operation): operation is OAuthStep => (OAUTH_STEPS as readonly string[]).includes(operation);

/**
 * Counts one request. `seconds`: its duration when the endpoint ran (null for a preflight, 404 or 405,
 * which are not timed); `operation`: its route's (router.ts ROUTES), if the route is measured.
 */
export function recordOutcome(metrics: IdpMetrics, operation: Operation | undefined, outcome: RequestOutcome | undefined, seconds: number | null): void {
  if (operation && seconds !== null) {
    metrics.operationLatency(operation, seconds);
    if (operation === 'token' && outcome?.grantType === 'refresh_token') metrics.refreshLatency(seconds);
  }
  if (!outcome) return;
  const { result } = outcome;
  if (result === 'success' || result === 'failure') {
    if (operation && isOAuthStep(operation)) metrics.oauthStep(operation, result);
    if (result === 'failure' && outcome.error) metrics.error(outcome.error);
    if (result === 'success' && outcome.grantType) metrics.tokenIssued(outcome.grantType, outcome.clientId ?? '');
    if (outcome.grantType === 'refresh_token') {
      metrics.refresh(result === 'success' ? 'success' : outcome.reusedToken === 'refresh_token' ? 'reuse_detected' : 'failure');
    }
  }
  if (outcome.reusedToken) metrics.tokenReuseDetected(outcome.reusedToken);
  if (outcome.login) metrics.loginAttempt(outcome.login);
  if (outcome.password) metrics.passwordChange(outcome.password);
  if (outcome.rateLimited) metrics.rateLimited(outcome.rateLimited);
  if (outcome.csrfRejected) metrics.csrfFailure();
}
