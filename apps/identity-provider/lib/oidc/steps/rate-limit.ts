import { rateLimitHeaders, strictest, type RateLimitRule } from '../../security/rate-limit';
import { TemporarilyUnavailable } from '../errors';
import type { Provider, RequestContext } from '../ports';

export type LimitedEndpoint = 'login' | 'token' | 'password_change';

/** Thrown when a limit is exceeded; carries the headers the 429 must send. */
export class RateLimited extends TemporarilyUnavailable {
  constructor(readonly headers: Record<string, string>, retryAfterSeconds: number) {
    super('Too many requests; try again later', retryAfterSeconds);
  }
}

/**
 * Counts this request against each (scope, key, rule) and refuses it when any limit is exceeded,
 * recording `security.rate_limited`. Returns the headers to add to a successful response.
 */
export function enforceRateLimits(
  provider: Provider, ctx: RequestContext, endpoint: LimitedEndpoint,
  checks: { scope: 'ip' | 'client' | 'account' | 'user'; key: string | null | undefined; rule: RateLimitRule }[],
  audit: { clientId?: string | null; userId?: string | null } = {},
): Record<string, string> {
  const decisions = checks.filter((c) => c.key).map((c) => ({ ...c, decision: provider.limiter.hit(`${endpoint}:${c.scope}:${c.key}`, c.rule) }));
  const refused = decisions.find((d) => !d.decision.allowed);
  const headers = rateLimitHeaders(strictest(decisions.map((d) => d.decision)));
  if (refused) {
    provider.audit.record({
      action: 'security.rate_limited', clientId: audit.clientId ?? null, userId: audit.userId ?? null, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId,
      details: { endpoint, scope: refused.scope, limit: refused.rule.limit, window_seconds: refused.rule.windowSeconds },
    });
    throw new RateLimited(headers, refused.decision.resetSeconds);
  }
  return headers;
}
