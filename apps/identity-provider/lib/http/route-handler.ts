import { getContainer } from '../container';
import { resolveClientIp } from './client-ip';
import { CLIENT_IP_HEADER, handleProviderRequest, requestContext } from './edge';
import { LightResponse } from './node/light';

/**
 * The protocol route handlers' way into the core (app/oidc/*, app/.well-known/*, app/interaction/*, through
 * lib/http/next.ts): the same handleProviderRequest the server's fast path uses. The client IP comes from
 * the header our server sets from the socket (and strips from incoming requests); on hosts without our
 * server it is unknown unless a trusted proxy header is configured.
 */
export async function handleRouteRequest(request: Request): Promise<Response> {
  const { provider, log, config, metrics } = await getContainer();
  const ip = request.headers.get(CLIENT_IP_HEADER) ?? resolveClientIp(null, request.headers, config.trustedProxy);
  const response = await handleProviderRequest(request, requestContext(request, ip), provider, log, metrics);
  // server.ts answers protocol paths itself with light responses; Next only ever gets standard ones
  if (!(response instanceof LightResponse)) return response;
  const headers = new Headers();
  response.headers.forEach((value, name) => name !== 'set-cookie' && headers.set(name, value));
  for (const cookie of response.headers.getSetCookie()) headers.append('set-cookie', cookie);
  return new Response(response.rawBody, { status: response.status, headers });
}
