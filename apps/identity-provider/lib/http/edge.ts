import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { corsHeaders } from '../oidc/cors';
import { asOAuthError } from '../oidc/errors';
import type { Provider, RequestContext } from '../oidc/ports';
import { errorResponse, reply } from '../oidc/respond';
import { routeOf, type Route } from '../oidc/router';
import type { IdpMetrics } from '../observability/metrics';
import { recordOutcome } from '../observability/outcome-metrics';

/** Header through which the Node server hands the resolved client IP to Next's route handlers. */
export const CLIENT_IP_HEADER = 'x-idp-client-ip';

export function isProviderPath(pathname: string): boolean {
  return routeOf(pathname) !== undefined;
}

export function requestContext(request: Request, ip: string | null): RequestContext {
  return {
    requestId: request.headers.get('x-request-id')?.slice(0, 64) || randomUUID(),
    ip,
    userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null,
  };
}

/**
 * The one bridge from HTTP to the protocol core: method check, CORS (preflight included), dispatch, and
 * a last-resort catch so no stack trace or internal detail ever reaches a response. What the endpoint
 * reports as the request's outcome (ctx.outcome) becomes the metrics (lib/observability) and the request's
 * one JSON log line: method, path (never the query string: it carries codes and state), status, duration,
 * request id, client IP, and the operation, outcome and OAuth error when there are.
 */
export async function handleProviderRequest(
  request: Request,
  ctx: RequestContext,
  provider: Provider,
  log: Logger,
  /** Where outcomes are counted; null where nothing is (tests, tools). */
  metrics: IdpMetrics | null,
  /** The request's path when the caller has it already (the Node server): saves parsing the URL again. */
  pathname = new URL(request.url).pathname,
): Promise<Response> {
  const started = performance.now();
  const route = routeOf(pathname);
  let response: Response | undefined;
  try {
    response = await dispatch(request, pathname, route, ctx, provider, log);
    return response;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const status = response?.status ?? 500;
    const { outcome } = ctx;
    // preflights, 404 and 405 never reach the endpoint (route methods never list OPTIONS)
    const handled = route !== undefined && route.methods.includes(request.method);
    try {
      if (metrics) recordOutcome(metrics, route?.operation, outcome, handled ? seconds : null);
    } catch {
      // metrics are best effort
    }
    const line: Record<string, unknown> = {
      method: request.method,
      path: route ? pathname : '(unmatched)',
      status,
      duration_ms: Math.round(seconds * 10_000) / 10,
      request_id: ctx.requestId,
      client_ip: ctx.ip,
    };
    if (route?.operation) line.operation = route.operation;
    if (outcome?.result) line.outcome = outcome.result;
    if (outcome?.error) line.error = outcome.error;
    log.info('request', line);
  }
}

async function dispatch(request: Request, pathname: string, route: Route | undefined, ctx: RequestContext, provider: Provider, log: Logger): Promise<Response> {
  if (!route) return reply('Not found', { status: 404 });
  const origin = route.cors ? request.headers.get('origin') : null;
  const cors = origin ? await corsHeaders(origin, () => provider.clients.origins()) : {};
  if (request.method === 'OPTIONS' && route.cors) return reply(null, { status: 204, headers: cors });
  if (!route.methods.includes(request.method)) {
    return reply(null, { status: 405, headers: { Allow: route.methods.join(', '), ...cors } });
  }
  let response: Response;
  try {
    response = await route.handler(request, ctx, provider);
  } catch (error) {
    const mapped = asOAuthError(error);
    // an unavailable database is an operational state, logged once per request at warn; anything else is a bug
    if (mapped.status === 503) log.warn('request failed: database unavailable', { requestId: ctx.requestId, path: pathname, error });
    else log.error('request failed', { requestId: ctx.requestId, path: pathname, error });
    response = errorResponse(mapped);
  }
  for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
  response.headers.set('X-Request-Id', ctx.requestId);
  return response;
}
