import { asOAuthError, InvalidClient, InvalidRequest, UnsupportedTokenType } from '../errors';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, json } from '../respond';
import { attemptedClientId, authenticateClient, presentedClientId } from '../steps/authenticate-client';
import { parseForm, required, type FormParams } from '../steps/parse-form';
import { verifyAccessToken } from '../tokens';

const INACTIVE = { active: false };
const HINTS = ['access_token', 'refresh_token'];

/**
 * Token introspection (RFC 7662) for authenticated clients. A client learns only about tokens issued to
 * itself: anything else, like anything invalid, expired or revoked, is `{ "active": false }`.
 */
export async function introspectionEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const base = { ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  let clientId: string | null = null;
  let params: FormParams | undefined;
  try {
    if (request.method !== 'POST') throw new InvalidRequest('The introspection endpoint accepts POST only');
    params = await parseForm(request);
    const { client } = await authenticateClient(request, params, provider);
    clientId = client.clientId;
    if (client.tokenEndpointAuthMethod === 'none') throw new InvalidClient('Public clients cannot introspect tokens');
    const token = required(params, 'token');
    const hint = params.get('token_type_hint');
    if (hint && !HINTS.includes(hint)) throw new UnsupportedTokenType();

    const answer = await describe(token, provider);
    const mine = answer.active && answer.client_id === client.clientId;
    provider.audit.record({
      ...base,
      action: 'token.introspected',
      clientId,
      userId: mine ? ((answer.user_id as string | null) ?? null) : null,
      details: { active: mine, token_type: mine ? answer.token_type : null, jti: mine ? (answer.jti ?? null) : null },
    });
    reportOutcome(ctx, { result: 'success' });
    if (!mine) return json(INACTIVE);
    const { user_id: _userId, ...body } = answer;
    return json(body);
  } catch (thrown) {
    const error = asOAuthError(thrown);
    if (error instanceof InvalidClient) clientId = attemptedClientId(thrown) ?? clientId;
    if (clientId === null) clientId = presentedClientId(request, params);
    provider.audit.record({
      ...base,
      clientId,
      action: error instanceof InvalidClient ? 'client.auth_failed' : 'token.validation_failed',
      details: { reason: error.code, endpoint: 'introspection' },
    });
    reportOutcome(ctx, { result: 'failure', error: error.code });
    return errorResponse(error);
  }
}

async function describe(token: string, provider: Provider): Promise<Record<string, unknown> & { active: boolean; client_id?: string }> {
  if (token.split('.').length === 3) {
    try {
      const claims = await verifyAccessToken(provider, token, { anyAudience: true });
      return {
        active: true,
        token_type: 'Bearer',
        scope: claims.scope,
        client_id: claims.client_id,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        user_id: claims.sub !== claims.client_id ? claims.sub : null,
        ...(claims.auth_time ? { auth_time: claims.auth_time } : {}),
      };
    } catch {
      return INACTIVE;
    }
  }
  const refresh = await provider.store.grants.findRefreshToken(token);
  if (!refresh || !refresh.active) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: refresh.scope.join(' '),
    client_id: refresh.clientId,
    ...(refresh.userId ? { sub: refresh.userId } : {}),
    iss: provider.settings.issuer,
    exp: Math.floor(refresh.expiresAt.getTime() / 1000),
    iat: Math.floor(refresh.createdAt.getTime() / 1000),
    user_id: refresh.userId,
  };
}
