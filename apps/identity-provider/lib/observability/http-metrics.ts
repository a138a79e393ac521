/**
 * What the HTTP edge measures itself, for the few facts no audit event carries: request latency per
 * operation, CSRF rejections of the interaction forms, and the outcome of authorization requests
 * (which issue codes without an audit event of their own).
 */
import type { AuthOperation, IdpMetrics, OAuthErrorCode } from './metrics';

/** Route path -> latency operation. Discovery, JWKS and consent/password forms are not timed. */
export const OPERATIONS: ReadonlyMap<string, AuthOperation> = new Map<string, AuthOperation>([
  ['/oidc/token', 'token'],
  ['/oidc/userinfo', 'userinfo'],
  ['/oidc/introspect', 'introspect'],
  ['/oidc/revoke', 'revoke'],
  ['/oidc/authorize', 'authorize'],
  ['/oidc/authorize/resume', 'authorize'],
  ['/oidc/end-session', 'logout'],
  ['/interaction/logout', 'logout'],
  ['/interaction/login', 'login'],
]);

const AUTHORIZE_PATHS = new Set(['/oidc/authorize', '/oidc/authorize/resume']);
/** Where the provider sends the browser for an interaction (relative redirects). */
const INTERACTION_PAGES = /^\/(login|consent|password|logout)(\?|$)/;

export interface ObservedRequest {
  method: string;
  pathname: string;
  status: number;
  /** The response's Location header, if any. */
  location: string | null;
  seconds: number;
  /** The core handled a refresh-token grant (noted by the audit decorator). */
  refreshGrant: boolean;
}

export function observeRequest(metrics: IdpMetrics, r: ObservedRequest): void {
  const operation = OPERATIONS.get(r.pathname);
  // preflights, 404 and 405 never reached the endpoint's logic
  const handled = r.method !== 'OPTIONS' && r.status !== 404 && r.status !== 405;
  if (operation && handled) {
    metrics.operationLatency(operation, r.seconds);
    if (operation === 'token' && r.refreshGrant) metrics.refreshLatency(r.seconds);
  }
  if (r.pathname.startsWith('/interaction/') && r.status === 403) metrics.csrfFailure();
  if (r.pathname === '/interaction/login' && r.status === 303 && r.location?.startsWith('/password')) {
    metrics.passwordChange('forced_change_required');
  }
  if (AUTHORIZE_PATHS.has(r.pathname) && handled) authorizeOutcome(metrics, r);
}

/**
 * A redirect carrying `code` completed the authorization step; one carrying `error` (RFC 6749 4.1.2.1)
 * or an error page failed it; a redirect to the login or consent page is not an outcome yet.
 */
function authorizeOutcome(metrics: IdpMetrics, r: ObservedRequest): void {
  if (r.status >= 400) {
    metrics.oauthStep('authorize', 'failure');
    return;
  }
  if (!r.location || INTERACTION_PAGES.test(r.location)) return;
  let params: URLSearchParams;
  try {
    params = new URL(r.location, 'http://relative.invalid').searchParams;
  } catch {
    return;
  }
  const error = params.get('error');
  if (error) {
    metrics.oauthStep('authorize', 'failure');
    metrics.error(error as OAuthErrorCode); // bounded to the known codes in metrics.ts
  } else if (params.has('code')) {
    metrics.oauthStep('authorize', 'success');
  }
}
