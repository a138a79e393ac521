import { getContainer } from '../container';
import { CLIENT_IP_HEADER, handleProviderRequest, requestContext } from './edge';

/**
 * Route handler for Next.js: the same core the server's fast path uses. The client IP comes from the
 * header our server sets from the socket (and strips from incoming requests); on hosts without our
 * server it is unknown unless a trusted proxy header is configured.
 */
export async function nextProviderHandler(request: Request): Promise<Response> {
  const { provider, log, config, metrics } = await getContainer();
  const fromServer = request.headers.get(CLIENT_IP_HEADER);
  const { resolveClientIp } = await import('./client-ip');
  const ip = fromServer ?? resolveClientIp(null, request.headers, config.trustedProxy);
  return handleProviderRequest(request, requestContext(request, ip), provider, log, metrics);
}
