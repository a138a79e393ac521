import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log';
import type { Provider } from '../../oidc/ports';
import type { IdpMetrics } from '../../observability/metrics';
import { useResponseFactory } from '../../oidc/respond';
import { handleProviderRequest, requestContext } from '../edge';
import { LightResponse } from './light';
import { BodyTooLarge, sendWebResponse, toLightRequest } from './io';

/*
 * Every performance shim of the Node server lives in this folder, and only server.ts uses it. The protocol
 * core speaks Web-standard Request and Response, but undici's full objects build body streams for every
 * request and response, and Next's router costs more CPU per request than the token endpoint's own work; so
 * the custom server answers protocol paths itself, hands the core light objects that implement only what the
 * core reads (light.ts; the casts to Request and Response are here and nowhere else), reads bodies with
 * plain stream events and a size bound, and writes answers to the socket in one writeHead (io.ts). Next's
 * route handlers, the other mount of the same core, keep the standard classes. `npm run bench` measures it.
 */

/** Reads Node's parsed headers through the one method client-IP resolution needs. */
export function nodeHeaderReader(req: IncomingMessage): Pick<Headers, 'get'> {
  return {
    get: (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * The custom server's answer to a protocol path. Installs light responses as the core's response factory
 * for the whole process: under server.ts, Next never receives a protocol path (lib/http/route-handler.ts turns
 * a light response back into a standard one should it ever).
 */
export function createFastPath(options: {
  origin: string;
  provider: Provider;
  metrics: IdpMetrics | null;
  log: Logger;
  headers: Readonly<Record<string, string>>;
}) {
  const { origin, provider, metrics, log, headers } = options;
  useResponseFactory((body, init) => new LightResponse(body, init) as unknown as Response);
  return async (req: IncomingMessage, res: ServerResponse, ip: string | null, pathname: string): Promise<void> => {
    let request: Request;
    try {
      const pending = toLightRequest(req, origin);
      request = pending instanceof Promise ? await pending : pending;
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      res
        .writeHead(413, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' })
        .end(JSON.stringify({ error: 'invalid_request', error_description: 'The request body is too large' }));
      return;
    }
    const sent = sendWebResponse(res, await handleProviderRequest(request, requestContext(request, ip), provider, log, metrics, pathname), headers);
    if (sent) await sent;
  };
}
