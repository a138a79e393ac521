import type { User } from '../domain';
import { asOAuthError, InsufficientScope, InvalidRequest, InvalidToken } from '../errors';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, json, reply } from '../respond';
import { TokenExpired, verifyAccessTokenClaims } from '../tokens';

/** OIDC Core 5.4: which claims each scope releases. */
export function claimsFor(user: User, scopes: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  if (scopes.includes('profile')) {
    Object.assign(claims, {
      name: user.name ?? undefined,
      given_name: user.givenName ?? undefined,
      family_name: user.familyName ?? undefined,
      updated_at: Math.floor(user.updatedAt.getTime() / 1000),
    });
  }
  if (scopes.includes('email')) Object.assign(claims, { email: user.email, email_verified: user.emailVerified });
  return JSON.parse(JSON.stringify(claims));
}

/** RFC 6750 2.1 (header) and 2.2 (form body); never the query string. Exactly one method. */
async function bearerToken(request: Request): Promise<string> {
  const header = request.headers.get('authorization');
  let fromBody: string | null = null;
  if (request.method === 'POST' && request.headers.get('content-type')?.startsWith('application/x-www-form-urlencoded')) {
    fromBody = new URLSearchParams(await request.text()).get('access_token');
  }
  if (header && fromBody) throw new InvalidRequest('Send the access token by one method only');
  if (header) {
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match) throw new InvalidToken('The Authorization header is not a Bearer token');
    return match[1];
  }
  if (fromBody) return fromBody;
  throw Object.assign(new InvalidToken('No access token was provided'), { noToken: true });
}

/** UserInfo (OIDC Core 5.3): GET or POST, bearer access token, claims by granted scope. */
export async function userinfoEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const base = { ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  try {
    const token = await bearerToken(request);
    // only tokens whose aud includes the default audience (the issuer): a token for a resource server
    // alone is that API's, not a key to the user's profile (OpenID tokens for an API carry both)
    const claims = await verifyAccessTokenClaims(provider, token);
    const scopes = claims.scope.split(' ');
    // RFC 6750 3.1: the token is valid, only not for this resource
    if (!scopes.includes('openid')) throw new InsufficientScope('openid', 'The access token was not issued for OpenID Connect (no openid scope)');
    // revocation and the subject's claims, from memory unless something changed (accessTokenSubjects)
    const { user, revoked } = await provider.accessTokenSubjects.lookup(claims.sub, claims.jti, claims.gid ?? null);
    if (revoked) throw new InvalidToken('The token has been revoked');
    if (!user) throw new InvalidToken('The subject of the token no longer exists');
    provider.audit.record({
      ...base,
      action: 'token.userinfo_accessed',
      userId: user.id,
      clientId: claims.client_id,
      scopes,
      details: { jti: claims.jti, family_id: claims.gid ?? null },
    });
    reportOutcome(ctx, { result: 'success' });
    return json(claimsFor(user, scopes));
  } catch (thrown) {
    const error = asOAuthError(thrown);
    if (!(thrown as { noToken?: boolean })?.noToken) {
      provider.audit.record({
        ...base,
        action: thrown instanceof TokenExpired ? 'token.expired' : 'token.validation_failed',
        details: { reason: error.code, endpoint: 'userinfo' },
      });
      reportOutcome(ctx, { result: 'failure', error: error.code });
    }
    // RFC 6750 3.1: a request with no token at all gets the challenge without an error code
    if ((thrown as { noToken?: boolean })?.noToken) {
      return reply(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="userinfo"', 'Cache-Control': 'no-store', Pragma: 'no-cache' } });
    }
    return errorResponse(error, { bearer: true });
  }
}
