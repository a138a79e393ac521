import type { OAuthClient } from '../domain';
import type { AuditEvent } from '../audit';
import { asOAuthError, InvalidClient, InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '../errors';
import { authorizationCodeGrant } from '../grants/authorization-code';
import { clientCredentialsGrant } from '../grants/client-credentials';
import { refreshTokenGrant } from '../grants/refresh-token';
import type { GrantResult } from '../grants/types';
import { reportOutcome, type GrantTypeName } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, json } from '../respond';
import { attemptedClientId, authenticateClient, presentedClientId } from '../steps/authenticate-client';
import { parseForm, type FormParams } from '../steps/parse-form';
import { rateLimitHeaders } from '../../security/rate-limit';
import { enforceRateLimits, RateLimited, tighter } from '../steps/rate-limit';

type Grant = (params: FormParams, client: OAuthClient, provider: Provider) => Promise<GrantResult>;
// a Map, not an object: `__proto__`, `constructor` or `toString` must be unknown grant types like any other
const GRANTS = new Map<string, Grant>([
  ['authorization_code', authorizationCodeGrant],
  ['refresh_token', refreshTokenGrant],
  ['client_credentials', clientCredentialsGrant],
]);

/** The token endpoint (RFC 6749 3.2): parse, authenticate the client, check the grant, issue, audit, respond. */
export async function tokenEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const seen: { clientId: string | null; grantType: string | null } = { clientId: null, grantType: null };
  const base = () => ({ clientId: seen.clientId, grantType: seen.grantType, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId });
  let params: FormParams | undefined;
  try {
    if (request.method !== 'POST') throw new InvalidRequest('The token endpoint accepts POST only');
    const limits = provider.settings.rateLimits;
    const ipLimit = enforceRateLimits(provider, ctx, 'token', [{ scope: 'ip', key: ctx.ip, rule: limits.tokenPerIp }]);
    params = await parseForm(request);
    const grantType = params.get('grant_type');
    if (!grantType) throw new InvalidRequest('The grant_type parameter is missing');
    const grant = GRANTS.get(grantType);
    seen.grantType = grant ? grantType : null;
    const { client } = await authenticateClient(request, params, provider);
    seen.clientId = client.clientId;
    // a public client proves nothing by naming itself: anyone could spend its quota, so it is counted per
    // (client, IP); only an authenticated client's requests are surely its own
    const clientLimit = enforceRateLimits(
      provider,
      ctx,
      'token',
      [
        client.tokenEndpointAuthMethod === 'none'
          ? { scope: 'client_ip', key: ctx.ip ? `${client.clientId} ${ctx.ip}` : null, rule: limits.tokenPerClient }
          : { scope: 'client', key: client.clientId, rule: limits.tokenPerClient },
      ],
      { clientId: client.clientId },
    );
    if (!grant) throw new UnsupportedGrantType(`The grant type is not supported: ${grantType.slice(0, 64)}`);
    if (!client.grantTypes.includes(grantType as OAuthClient['grantTypes'][number])) throw new UnauthorizedClient();
    const result = await grant(params, client, provider);
    for (const event of result.audit) provider.audit.record({ ...base(), ...event });
    reportOutcome(ctx, { result: 'success', grantType: grantType as GrantTypeName, clientId: client.clientId });
    const limit = tighter(ipLimit, clientLimit);
    return json(result.body, 200, limit ? rateLimitHeaders(limit) : undefined);
  } catch (thrown) {
    const error = asOAuthError(thrown);
    if (error instanceof RateLimited) {
      // already audited as security.rate_limited; the grant type is not the outcome's, the limit is
      reportOutcome(ctx, { result: 'failure', error: error.code });
      return errorResponse(error);
    }
    if (error instanceof InvalidClient) seen.clientId = attemptedClientId(thrown) ?? seen.clientId;
    // a failure before authentication: whoever the request claims to be (body or Basic credentials)
    if (seen.clientId === null) seen.clientId = presentedClientId(request, params);
    provider.audit.record(failureEvent(error, base()));
    reportOutcome(ctx, {
      result: 'failure',
      error: error.code,
      grantType: (seen.grantType as GrantTypeName | null) ?? undefined,
      clientId: seen.clientId,
      reusedToken: error.reusedToken,
    });
    return errorResponse(error);
  }
}

function failureEvent(error: ReturnType<typeof asOAuthError>, base: Omit<AuditEvent, 'action'>): AuditEvent {
  if (error.audit) return { ...base, action: error.audit.action, details: { reason: error.code, ...error.audit.details } };
  if (error instanceof InvalidClient) return { ...base, action: 'client.auth_failed', details: { reason: error.code } };
  return { ...base, action: 'token.validation_failed', details: { reason: error.code } };
}
