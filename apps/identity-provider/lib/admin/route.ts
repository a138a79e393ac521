import { randomUUID } from 'node:crypto';
import { isDatabaseUnavailable } from '@idp/database-identity';
import { z } from 'zod';
import type { Container } from '../container';
import { getContainer } from '../http/next';
import { CLIENT_IP_HEADER } from '../http/edge';
import { signedInAccount } from '../http/signed-in';
import { csrfMatches } from '../oidc/session';
import { AdminError, adminService, type AdminService } from './service';

/**
 * The one wrapper of every /api/admin/* and /api/analytics/* route: authentication (a provider session of a
 * user with the admin role and no pending password change), CSRF protection of changes, recent sign-in for
 * destructive or secret-revealing ones, zod parsing of path, query (each parameter once) and body, the
 * answer checked against the operation's output schema, and one error shape
 * `{ error, message, parameter?, issues?, reauth_url? }` from one mapper that never shows an unknown
 * error's text.
 *
 * CSRF: a change is a POST with a JSON body (a cross-site form cannot send `application/json` without a
 * CORS preflight, which this origin never grants), from this origin (Origin, or Sec-Fetch-Site, must say
 * so), carrying the session's CSRF token in `X-CSRF-Token` (the token of the sealed session cookie, which
 * pages hand to their scripts). All three are checked.
 */
export interface AdminCaller {
  userId: string;
  email: string;
  authTime: Date;
}

export interface RouteSpec<P extends z.ZodType, I extends z.ZodType> {
  /** Path parameters (Next's dynamic segments). */
  params?: P;
  /** Query (GET) or JSON body (POST). */
  input?: I;
  /** Destructive or secret-revealing: needs a sign-in within ADMIN_REAUTH_SECONDS. */
  recentSignIn?: boolean;
  /** The answer (a Response, such as an export stream, is passed on unchecked). */
  output?: z.ZodType;
}

type Handler<P extends z.ZodType, I extends z.ZodType> = (ctx: {
  service: AdminService;
  caller: AdminCaller;
  params: z.infer<P>;
  input: z.infer<I>;
  container: Container;
  request: Request;
}) => Promise<unknown>;

const MAX_BODY = 64 * 1024;
const noStore = { 'Cache-Control': 'no-store' };

export function problem(status: number, error: string, message: string, extra: Record<string, unknown> = {}): Response {
  return Response.json({ error, message, ...extra }, { status, headers: noStore });
}

const issuesOf = (error: z.ZodError, prefix: string) =>
  error.issues.slice(0, 20).map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'), message: i.message }));

/** A 400 naming the parameter at fault (the first issue's) and listing every issue. */
function invalidInput(issues: { path: string; message: string }[]): Response {
  const [first] = issues;
  return problem(400, 'invalid_request', `${first?.path || 'input'} ${first?.message ?? 'is invalid'}`, {
    ...(first?.path ? { parameter: first.path.split('.')[0] } : {}),
    issues,
  });
}

/** The query as one value per name; a repeated name is refused (which of two values counts is nobody's guess). */
function queryOf(url: string): Record<string, string> | Response {
  const query: Record<string, string> = {};
  for (const [name, value] of new URL(url).searchParams) {
    if (Object.hasOwn(query, name)) return invalidInput([{ path: name, message: 'must be given once' }]);
    query[name] = value;
  }
  return query;
}

/** Who calls: a signed-in administrator, or the Response that refuses them (401 without a session, 403 otherwise). */
export async function adminCaller(request: Request, container: Container): Promise<AdminCaller | Response> {
  const { provider } = container;
  const { browser, session, user } = await signedInAccount(request, provider);
  if (!session) return problem(401, 'unauthenticated', 'Sign in as an administrator');
  if (!user.roles.includes('admin') || user.mustChangePassword || (user.lockedUntil && user.lockedUntil > new Date())) {
    return problem(403, 'forbidden', 'This needs the administrator role');
  }
  if (request.method === 'POST') {
    const type = request.headers.get('content-type') ?? '';
    const origin = request.headers.get('origin');
    const site = request.headers.get('sec-fetch-site');
    const sameOrigin = origin === new URL(provider.settings.issuer).origin || (site === 'same-origin' && (!origin || origin === 'null'));
    if (!sameOrigin || (site !== null && site !== 'same-origin')) {
      return problem(403, 'csrf_failed', 'Changes must come from the admin console (same origin)');
    }
    if (!/^application\/json\b/i.test(type)) return problem(415, 'invalid_request', 'Send the input as application/json');
    if (!csrfMatches(browser, request.headers.get('x-csrf-token'))) return problem(403, 'csrf_failed', 'The CSRF token is missing or stale: reload the page');
  }
  return { userId: user.id, email: user.email, authTime: session.authTime };
}

/** The path to sign in again and come back to `returnTo` (the login form with return_to makes a fresh session). */
export const reauthUrl = (returnTo: string) => `/login?return_to=${encodeURIComponent(returnTo)}`;

export function needsReauth(caller: Pick<AdminCaller, 'authTime'>, container: Container): boolean {
  return Date.now() - caller.authTime.getTime() > container.config.adminReauthSeconds * 1000;
}

type NoInput = z.ZodObject<Record<string, never>>;

export function adminRoute<P extends z.ZodType = NoInput, I extends z.ZodType = NoInput>(spec: RouteSpec<P, I>, handler: Handler<P, I>) {
  return async (request: Request, context?: { params?: Promise<Record<string, string | string[]>> }): Promise<Response> => {
    let container: Container | undefined;
    try {
      container = await getContainer();
      const caller = await adminCaller(request, container);
      if (caller instanceof Response) return caller;

      const rawParams = (await context?.params) ?? {};
      const params = (spec.params ?? z.object({})).safeParse(rawParams);
      if (!params.success) return problem(404, 'not_found', 'No such resource', { issues: issuesOf(params.error, 'path') });

      let raw: unknown;
      if (request.method === 'POST') {
        const text = await request.text();
        if (text.length > MAX_BODY) return problem(413, 'invalid_request', 'The request body is too large');
        try {
          raw = text ? JSON.parse(text) : {};
        } catch {
          return problem(400, 'invalid_request', 'The body is not JSON');
        }
      } else {
        const query = queryOf(request.url);
        if (query instanceof Response) return query;
        raw = query;
      }
      const input = (spec.input ?? z.object({})).safeParse(raw);
      if (!input.success) return invalidInput(issuesOf(input.error, ''));

      if (spec.recentSignIn && needsReauth(caller, container)) {
        const back = request.headers.get('x-admin-return-to');
        return problem(
          401,
          'reauthentication_required',
          `Sign in again: this action needs a sign-in within the last ${container.config.adminReauthSeconds} seconds`,
          {
            reauth_url: reauthUrl(back && back.startsWith('/admin') && !back.startsWith('//') ? back : '/admin'),
          },
        );
      }

      const actor = {
        id: caller.userId,
        ip: request.headers.get(CLIENT_IP_HEADER),
        userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null,
        requestId: request.headers.get('x-request-id')?.slice(0, 100) ?? randomUUID(),
      };
      const service = adminService(container, actor);
      const body = await handler({ service, caller, params: params.data as z.infer<P>, input: input.data as z.infer<I>, container, request });
      if (body instanceof Response) return body;
      const checked = spec.output?.safeParse(body);
      if (checked && !checked.success) {
        // a bug of ours, not the caller's: say nothing about it beyond the log
        container.log.error('admin API answer does not match its output schema', { url: new URL(request.url).pathname, issues: issuesOf(checked.error, '') });
        return problem(500, 'server_error', 'Internal error');
      }
      return Response.json(body, { headers: noStore });
    } catch (error) {
      return mapError(error, container);
    }
  };
}

/** The one error mapper: known refusals keep their message; anything else is logged and answered generically. */
export function mapError(error: unknown, container?: Container): Response {
  if (error instanceof AdminError) {
    const parameter = error.status === 400 ? error.issues?.[0]?.path.split('.')[0] : undefined;
    return problem(error.status, error.code, error.message, { ...(parameter ? { parameter } : {}), ...(error.issues ? { issues: error.issues } : {}) });
  }
  if (isDatabaseUnavailable(error)) {
    const response = problem(503, 'temporarily_unavailable', 'The database is unavailable; try again shortly');
    response.headers.set('Retry-After', '5');
    return response;
  }
  container?.log.error('admin API error', { error });
  return problem(500, 'server_error', 'Internal error');
}
