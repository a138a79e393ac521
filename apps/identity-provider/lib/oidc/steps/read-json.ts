import { InvalidRequest } from '../errors';
import { reportOutcome } from '../outcome';
import type { ProviderSettings, RequestContext } from '../ports';
import { errorResponse } from '../respond';
import { csrfMatches, isCrossSiteFormPost, readBrowserSession, type BrowserSession } from '../session';

/** WebAuthn responses with their attestation fit easily; anything larger is refused unparsed. */
const MAX_JSON_BYTES = 64 * 1024;

/**
 * The JSON calls of the sign-in and security pages (WebAuthn ceremonies, enrolment): same-origin POSTs of
 * `application/json` (which a cross-site form cannot send without a preflight) carrying the CSRF token of
 * the sealed session cookie as `csrf`. Anything else is a 4xx JSON error, never parsed further.
 */
export async function readJsonCall(
  request: Request,
  ctx: RequestContext,
  settings: ProviderSettings,
): Promise<{ body: Record<string, unknown>; browser: BrowserSession } | { rejected: Response }> {
  const forbidden = () => {
    reportOutcome(ctx, { csrfRejected: true });
    return {
      rejected: errorResponse(Object.assign(new InvalidRequest('The request expired or was sent from another site; reload the page'), { status: 403 })),
    };
  };
  if (isCrossSiteFormPost(request, settings.issuer)) return forbidden();
  if (!/^application\/json(;|$)/i.test(request.headers.get('content-type') ?? ''))
    return { rejected: errorResponse(new InvalidRequest('The body must be application/json')) };
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_JSON_BYTES) return { rejected: errorResponse(new InvalidRequest('The body is too large')) };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { rejected: errorResponse(new InvalidRequest('The body is not valid JSON')) };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { rejected: errorResponse(new InvalidRequest('The body must be a JSON object')) };
  const browser = await readBrowserSession(request, settings);
  const csrf = (body as Record<string, unknown>).csrf;
  if (typeof csrf !== 'string' || !csrfMatches(browser, csrf)) return forbidden();
  return { body: body as Record<string, unknown>, browser };
}
