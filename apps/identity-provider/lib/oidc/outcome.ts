import type { OAuthErrorCode } from './errors';
import type { RequestContext } from './ports';
import type { LimitedEndpoint } from './steps/rate-limit';

/** What a route is for the metrics (router.ts ROUTES): a latency series each, and an OAuth step but for `login`. */
export type Operation = 'login' | 'authorize' | 'token' | 'userinfo' | 'introspect' | 'revoke' | 'logout';
export type GrantTypeName = 'authorization_code' | 'refresh_token' | 'client_credentials';
export type ReusedToken = 'refresh_token' | 'authorization_code';
export type PasswordOutcome = 'forced_change_required' | 'password_changed' | 'reset_requested' | 'reset_completed' | 'reset_failed';

/**
 * What one request came to, as the endpoint that handled it tells the HTTP edge: the edge turns it into the
 * metrics and the request's log line (lib/http/edge.ts). Which operation it was follows from the route
 * (router.ts ROUTES). Every field is optional: a request that reached no verdict (a form page's validation
 * error, a preflight) reports nothing.
 */
export interface RequestOutcome {
  /** The OAuth step's verdict; `pending_interaction`: the browser was sent to a login, consent or password page. */
  result?: 'success' | 'failure' | 'pending_interaction';
  /** The OAuth error code the client was answered with (token error body, authorization error redirect). */
  error?: OAuthErrorCode;
  /** Token endpoint: the grant requested, once it is a supported one. */
  grantType?: GrantTypeName;
  /** Token endpoint: the client the grant is for (tokens issued are counted per registered client). */
  clientId?: string | null;
  /** A refresh token or authorization code presented a second time. */
  reusedToken?: ReusedToken;
  login?: 'success' | 'failure' | 'locked';
  password?: PasswordOutcome;
  /** The rate limit that refused the request. */
  rateLimited?: LimitedEndpoint;
  /** The form or JSON call failed its same-origin or CSRF-token check. */
  csrfRejected?: true;
}

/** Adds facts to the request's outcome (a plain slot on the context: nothing measurable on the token path). */
export function reportOutcome(ctx: RequestContext, facts: RequestOutcome): void {
  if (ctx.outcome) Object.assign(ctx.outcome, facts);
  else ctx.outcome = facts;
}
