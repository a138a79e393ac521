import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { corsHeaders } from '../oidc/cors';
import { asOAuthError } from '../oidc/errors';
import type { Provider, RequestContext } from '../oidc/ports';
import { errorResponse, reply } from '../oidc/respond';
import { BROWSER_ENDPOINTS, PROTOCOL_ENDPOINTS } from '../oidc/router';
import { metricsOf } from '../observability/audit-metrics';
import { observeRequest } from '../observability/http-metrics';
import { takeRefreshGrant } from '../observability/request-scope';

/** Header through which the Node server hands the resolved client IP to Next's route handlers. */
export const CLIENT_IP_HEADER = 'x-idp-client-ip';

// own keys only: a request path is never `constructor`, `__proto__` or another inherited name of a route table
export function isProviderPath(pathname: string): boolean {
  return Object.hasOwn(PROTOCOL_ENDPOINTS, pathname) || Object.hasOwn(BROWSER_ENDPOINTS, pathname);
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
 * a last-resort catch so no stack trace or internal detail ever reaches a response. Every request is
 * timed into the metrics (lib/observability) and logged as one JSON line: method, path (never the
 * query string: it carries codes and state), status, duration, request id and client IP.
 */
export async function handleProviderRequest(
  request: Request,
  ctx: RequestContext,
  provider: Provider,
  log: Logger,
  /** The request's path when the caller has it already (the Node server): saves parsing the URL again. */
  pathname = new URL(request.url).pathname,
): Promise<Response> {
  const started = performance.now();
  let response: Response | undefined;
  let refreshGrant = false;
  try {
    response = await dispatch(request, pathname, ctx, provider, log);
    return response;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    refreshGrant = takeRefreshGrant(ctx.requestId);
    const status = response?.status ?? 500;
    const metrics = metricsOf(provider.audit);
    try {
      if (metrics)
        observeRequest(metrics, { method: request.method, pathname, status, location: response?.headers.get('location') ?? null, seconds, refreshGrant });
    } catch {
      // metrics are best effort
    }
    log.info('request', {
      method: request.method,
      path: isProviderPath(pathname) ? pathname : '(unmatched)',
      status,
      duration_ms: Math.round(seconds * 10_000) / 10,
      request_id: ctx.requestId,
      client_ip: ctx.ip,
    });
  }
}

async function dispatch(request: Request, pathname: string, ctx: RequestContext, provider: Provider, log: Logger): Promise<Response> {
  const protocol = Object.hasOwn(PROTOCOL_ENDPOINTS, pathname) ? PROTOCOL_ENDPOINTS[pathname] : undefined;
  const route = protocol ?? (Object.hasOwn(BROWSER_ENDPOINTS, pathname) ? BROWSER_ENDPOINTS[pathname] : undefined);
  if (!route) return reply('Not found', { status: 404 });
  const origin = protocol?.cors ? request.headers.get('origin') : null;
  const cors = origin ? await corsHeaders(origin, () => provider.clients.origins()) : {};
  if (request.method === 'OPTIONS' && protocol?.cors) return reply(null, { status: 204, headers: cors });
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
