import { z } from 'zod';
import type { Session, User } from '@idp/database-identity';
import type { AppProvider, Container } from '../container';
import { getContainer } from '../http/next';
import { CLIENT_IP_HEADER, requestContext } from '../http/edge';
import { resolveClientIp } from '../http/client-ip';
import { asOAuthError } from '../oidc/errors';
import type { RequestContext } from '../oidc/ports';
import { recordOutcome } from '../observability/outcome-metrics';
import { csrfMatches, isCrossSiteFormPost, type BrowserSession } from '../oidc/session';
import { signedInAccount } from '../http/signed-in';

/** The end-user account API (/api/account/*): one wrapper for auth, CSRF, validation and errors. */

const NO_STORE = { 'Cache-Control': 'no-store' } as const;
/** The header carrying the CSRF token of the sealed session cookie (the page renders it). */
export const CSRF_HEADER = 'x-csrf-token';
const MAX_BODY_BYTES = 8 * 1024;

/** The one error shape of the account API: a stable code, a sentence for people, the parameter at fault. */
export class AccountError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorJson(error: AccountError): Response {
  return Response.json(
    { error: error.code, message: error.message, ...(error.parameter ? { parameter: error.parameter } : {}) },
    { status: error.status, headers: { ...NO_STORE, ...error.headers } },
  );
}

export interface AccountContext {
  provider: AppProvider;
  container: Container;
  request: Request;
  ctx: RequestContext;
  browser: BrowserSession;
  session: Session;
  user: User;
}

interface RouteOptions<S extends z.ZodType> {
  /** Validates the query (GET) or the JSON body (POST). */
  input: S;
}

/**
 * A route handler of the account API. Every request needs an active provider session whose user has no
 * forced password change pending (401/403 otherwise). POSTs are JSON only (a cross-site form cannot send
 * that without a CORS preflight, which nothing here answers), same-origin by Fetch Metadata and Origin
 * like the interaction forms, and carry the session cookie's CSRF token in `X-CSRF-Token`. The cookie is
 * SameSite=Lax. Inputs are zod-validated (400 naming the parameter); an unavailable database is a 503;
 * any other failure is logged and answered with a generic 500, never its message.
 */
export function accountRoute<S extends z.ZodType>(options: RouteOptions<S>, handler: (account: AccountContext, input: z.infer<S>) => Promise<unknown>) {
  return async (request: Request): Promise<Response> => {
    const container = await getContainer();
    const { config } = container;
    const ip = request.headers.get(CLIENT_IP_HEADER) ?? resolveClientIp(null, request.headers, config.trustedProxy);
    const ctx = requestContext(request, ip);
    try {
      return await answer(container, request, ctx);
    } finally {
      // a password change and its rate limit report their outcome as at the interaction form
      try {
        recordOutcome(container.metrics, undefined, ctx.outcome, null);
      } catch {
        // metrics are best effort
      }
    }
  };

  async function answer(container: Container, request: Request, ctx: RequestContext): Promise<Response> {
    const { provider, log } = container;
    try {
      const mutating = request.method !== 'GET' && request.method !== 'HEAD';
      if (mutating && isCrossSiteFormPost(request, provider.settings.issuer)) throw new AccountError(403, 'forbidden', 'Cross-site requests are not accepted');
      const { browser, session, user } = await signedInAccount(request, provider);
      if (!session) throw new AccountError(401, 'unauthenticated', 'Sign in to manage your account');
      if (user.mustChangePassword) throw new AccountError(403, 'password_change_required', 'Choose a new password first');
      let raw: unknown;
      if (mutating) {
        if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) {
          throw new AccountError(415, 'unsupported_media_type', 'Send the request as application/json');
        }
        if (!csrfMatches(browser, request.headers.get(CSRF_HEADER))) throw new AccountError(403, 'csrf', 'The page expired. Reload it and try again');
        raw = await readJson(request);
      } else {
        raw = Object.fromEntries(new URL(request.url).searchParams);
      }
      const parsed = options.input.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const parameter = issue?.path.length ? String(issue.path[0]) : undefined;
        throw new AccountError(400, 'invalid_request', issue?.message ?? 'The request is invalid', parameter);
      }
      const body = await handler({ provider, container, request, ctx, browser, session, user }, parsed.data);
      if (body instanceof Response) return body;
      return Response.json(body ?? { ok: true }, { headers: NO_STORE });
    } catch (error) {
      if (error instanceof AccountError) return errorJson(error);
      const mapped = asOAuthError(error);
      if (mapped.status === 503) {
        log.warn('account request failed: database unavailable', { requestId: ctx.requestId, error });
        return errorJson(new AccountError(503, 'temporarily_unavailable', 'The service is busy. Try again in a moment', undefined, { 'Retry-After': '1' }));
      }
      log.error('account request failed', { requestId: ctx.requestId, path: new URL(request.url).pathname, error });
      return errorJson(new AccountError(500, 'server_error', 'Something went wrong. Try again later'));
    }
  }
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new AccountError(413, 'invalid_request', 'The request body is too large');
  try {
    return JSON.parse(text);
  } catch {
    throw new AccountError(400, 'invalid_request', 'The body is not valid JSON');
  }
}
