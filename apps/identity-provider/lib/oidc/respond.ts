import { InsufficientScope, InvalidClient, InvalidToken, TemporarilyUnavailable, type OAuthError } from './errors';

export type ResponseFactory = (body: string | null, init: { status?: number; headers?: Record<string, string> }) => Response;

let makeResponse: ResponseFactory = (body, init) => new Response(body, init);

/**
 * Every response of the core is made here. The Node server installs a lighter factory for the process
 * (lib/http/node/); without it (Next's own server, tests) the core answers with the standard Response.
 */
export function reply(body: string | null, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return makeResponse(body, init);
}

export function useResponseFactory(factory: ResponseFactory): void {
  makeResponse = factory;
}

/** RFC 6749 5.1: token-bearing responses must not be cached. */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return reply(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...NO_STORE, ...headers },
  });
}

/**
 * The one mapping from OAuthError to an HTTP response: RFC 6749 5.2 JSON for the token-style endpoints,
 * RFC 6750 3 `WWW-Authenticate: Bearer` for protected resources. Never includes causes or stack traces.
 */
export function errorResponse(error: OAuthError, options: { bearer?: boolean } = {}): Response {
  const headers: Record<string, string> = {};
  if (error instanceof InvalidClient && error.usedBasic)
    headers['WWW-Authenticate'] = `Basic realm="${(error.basicRealm ?? 'token').replace(/["\\]/g, '')}", charset="UTF-8"`;
  if (options.bearer) {
    const attrs =
      error instanceof InvalidToken || error instanceof InsufficientScope
        ? `error="${error.code}", error_description="${error.description.replace(/"/g, "'")}"` +
          (error instanceof InsufficientScope ? `, scope="${error.requiredScope}"` : '')
        : '';
    headers['WWW-Authenticate'] = `Bearer realm="userinfo"${attrs ? ', ' + attrs : ''}`;
  }
  if (error instanceof TemporarilyUnavailable) {
    headers['Retry-After'] = String(error.retryAfterSeconds);
    Object.assign(headers, (error as { headers?: Record<string, string> }).headers ?? {});
  }
  return json({ error: publicErrorCode(error), error_description: error.description }, error.status, headers);
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return reply(null, { status: 303, headers: { Location: location, ...NO_STORE, ...headers } });
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** A minimal page for errors that must not be redirected (unknown client, unregistered redirect URI). */
/**
 * The code a response shows: RFC 6749's. The internal invalid_client_id and invalid_redirect_uri (which only
 * decide that authorize answers with a page, never a redirect) are invalid_request; the description says which.
 */
function publicErrorCode(error: OAuthError): string {
  return error.code === 'invalid_client_id' || error.code === 'invalid_redirect_uri' ? 'invalid_request' : error.code;
}

export function errorPage(error: OAuthError): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign-in error</title><style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#0f172a}code{background:#f1f5f9;padding:.1rem .3rem;border-radius:.25rem}</style></head>
<body><h1>This sign-in request cannot be completed</h1><p>${escapeHtml(error.description)}.</p>
<p>Error: <code data-testid="error-code">${escapeHtml(publicErrorCode(error))}</code></p><p>Please return to the application you came from and try again.</p></body></html>`;
  return reply(html, {
    status: error.status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      ...NO_STORE,
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    },
  });
}
