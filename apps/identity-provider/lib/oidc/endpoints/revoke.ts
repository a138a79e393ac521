import { asOAuthError, InvalidClient, InvalidRequest, UnsupportedTokenType } from '../errors';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, NO_STORE, reply } from '../respond';
import { attemptedClientId, authenticateClient } from '../steps/authenticate-client';
import { parseForm, required } from '../steps/parse-form';
import { verifyAccessToken } from '../tokens';

const HINTS = ['access_token', 'refresh_token'];

/**
 * Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant (2.1: the access tokens
 * of the same grant too); revoking an access token blocks its jti until expiry. Unknown or already
 * invalid tokens get 200 (2.2). A token issued to another client is refused and left untouched.
 */
export async function revocationEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const base = { ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  let clientId: string | null = null;
  try {
    if (request.method !== 'POST') throw new InvalidRequest('The revocation endpoint accepts POST only');
    const params = await parseForm(request);
    const { client } = await authenticateClient(request, params, provider);
    clientId = client.clientId;
    const token = required(params, 'token');
    const hint = params.get('token_type_hint');
    if (hint && !HINTS.includes(hint)) throw new UnsupportedTokenType();

    if (token.split('.').length === 3) {
      const claims = await verifyAccessToken(provider, token, { anyAudience: true }).catch(() => null);
      if (claims) {
        if (claims.client_id !== client.clientId) throw new InvalidRequest('The token was not issued to this client');
        await provider.store.grants.revokeAccessToken(claims.jti, new Date(claims.exp * 1000));
        provider.audit.record({
          ...base,
          action: 'token.revoked',
          clientId,
          userId: claims.sub !== clientId ? claims.sub : null,
          details: { token_type: 'access_token', jti: claims.jti, family_id: claims.gid ?? null },
        });
        reportOutcome(ctx, { result: 'success' });
      }
    } else {
      const refresh = await provider.store.grants.findRefreshToken(token);
      if (refresh) {
        if (refresh.clientId !== client.clientId) throw new InvalidRequest('The token was not issued to this client');
        const revoked = await provider.store.grants.revokeFamily(refresh.familyId, 'revoked_by_client');
        provider.audit.record({
          ...base,
          action: 'token.revoked',
          clientId,
          userId: refresh.userId,
          details: { token_type: 'refresh_token', family_id: refresh.familyId, revoked_refresh_tokens: revoked },
        });
        reportOutcome(ctx, { result: 'success' });
      }
    }
    return reply(null, { status: 200, headers: NO_STORE });
  } catch (thrown) {
    const error = asOAuthError(thrown);
    if (error instanceof InvalidClient) clientId = attemptedClientId(thrown) ?? clientId;
    provider.audit.record({
      ...base,
      clientId,
      action: error instanceof InvalidClient ? 'client.auth_failed' : 'token.validation_failed',
      details: { reason: error.code, endpoint: 'revocation' },
    });
    reportOutcome(ctx, { result: 'failure', error: error.code });
    return errorResponse(error);
  }
}
