import { NextResponse, type NextRequest } from 'next/server';
import { getContainer } from './lib/http/next';

/**
 * Content Security Policy for the pages Next renders (the fast path's own pages carry their own): a fresh
 * nonce per request for Next's scripts ('strict-dynamic' lets them load their chunks), nothing framed,
 * no plugins, no <base>. `form-action` is this origin plus the registered redirect origins: a sign-in or
 * consent form ends in a redirect to the client, which the browser checks against it, and a form injected
 * into a page cannot post anywhere else. Second line of defence: the pages escape everything anyway.
 */
export async function proxy(request: NextRequest) {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64');
  let redirectOrigins: string[] = [];
  try {
    redirectOrigins = [...(await (await getContainer()).provider.clients.origins())];
  } catch {
    // the registry cannot be read (database down): forms may then post to this origin only
  }
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${process.env.NODE_ENV === 'development' ? " 'unsafe-eval'" : ''}`,
    // React and the charts set style attributes, which a nonce cannot cover
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action 'self'${redirectOrigins.map((origin) => ` ${origin}`).join('')}`,
  ].join('; ');
  // Next reads the nonce from the request's policy and puts it on the scripts it renders
  const headers = new Headers(request.headers);
  headers.set('content-security-policy', csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set('Content-Security-Policy', csp);
  return response;
}

export const config = {
  // pages only: not static assets, not the APIs (JSON needs no policy)
  matcher: [{ source: '/((?!_next/static|_next/image|favicon.ico|api/).*)' }],
};
