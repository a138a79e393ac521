import { rateLimitHeaders, type RateLimitDecision, type RateLimitRule } from '../../security/rate-limit';
import { TemporarilyUnavailable } from '../errors';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';

export type LimitedEndpoint = 'login' | 'token' | 'password_change' | 'password_reset' | 'email_verification';

/** Thrown when a limit is exceeded; carries the headers the 429 must send. */
export class RateLimited extends TemporarilyUnavailable {
  constructor(
    readonly headers: Record<string, string>,
    retryAfterSeconds: number,
  ) {
    super('Too many requests; try again later', retryAfterSeconds);
  }
}

/**
 * Counts this request against each (scope, key, rule) and refuses it when any limit is exceeded,
 * recording `security.rate_limited`. Every applicable rule is counted, even after one refuses. Returns the
 * tightest decision (for the RateLimit headers of a successful response), or null when no rule applied.
 * Plain loops: this runs twice on every token request.
 */
export function enforceRateLimits(
  provider: Provider,
  ctx: RequestContext,
  endpoint: LimitedEndpoint,
  checks: { scope: 'ip' | 'client' | 'client_ip' | 'account' | 'user'; key: string | null | undefined; rule: RateLimitRule }[],
  audit: { clientId?: string | null; userId?: string | null } = {},
): RateLimitDecision | null {
  let tightest: RateLimitDecision | null = null;
  let refused: { scope: string; rule: RateLimitRule; decision: RateLimitDecision } | null = null;
  for (const check of checks) {
    if (!check.key || check.rule.limit <= 0) continue;
    const decision = provider.limiter.hit(`${endpoint}:${check.scope}:${check.key}`, check.rule);
    if (!decision.allowed) refused ??= { scope: check.scope, rule: check.rule, decision };
    tightest = tighter(tightest, decision);
  }
  if (refused) {
    provider.audit.record({
      action: 'security.rate_limited',
      clientId: audit.clientId ?? null,
      userId: audit.userId ?? null,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      requestId: ctx.requestId,
      details: { endpoint, scope: refused.scope, limit: refused.rule.limit, window_seconds: refused.rule.windowSeconds },
    });
    reportOutcome(ctx, { rateLimited: endpoint });
    throw new RateLimited(rateLimitHeaders(refused.decision), refused.decision.resetSeconds);
  }
  return tightest;
}

/** The decision that leaves the client less room (either may be null). */
export function tighter(a: RateLimitDecision | null, b: RateLimitDecision | null): RateLimitDecision | null {
  if (!a || !b) return a ?? b;
  return b.remaining < a.remaining ? b : a;
}
