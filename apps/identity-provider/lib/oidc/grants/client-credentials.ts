import type { OAuthClient } from '../domain';
import { UnauthorizedClient } from '../errors';
import type { Provider } from '../ports';
import { resourcesOf, type FormParams } from '../steps/parse-form';
import { auditTarget, defaultTarget, isResourceScope, requireScopesOfRequestedResources, resolveResources, resourceTarget } from '../steps/resource';
import { parseScope, requireSubset } from '../steps/scope';
import { issueAccessToken } from '../tokens';
import type { GrantResult } from './types';

/** Scopes that describe an end user; meaningless for a client acting on its own behalf. */
const USER_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/**
 * RFC 6749 4.4: a confidential client acting for itself. Access token only (no ID or refresh token). With
 * `resource` (RFC 8707) the token is for those APIs and may carry their scopes; without, it keeps the
 * default audience and the client's own scopes (none an API defines).
 */
export async function clientCredentialsGrant(params: FormParams, client: OAuthClient, provider: Provider): Promise<GrantResult> {
  if (client.tokenEndpointAuthMethod === 'none') throw new UnauthorizedClient('Public clients cannot use client_credentials');
  const { index, resources } = await resolveResources(provider, client, resourcesOf(params));
  const identifiers = resources.map((r) => r.identifier);
  const own = client.scopes.filter((s) => !USER_SCOPES.includes(s) && !isResourceScope(s, index));
  const ofResources = resources.flatMap((r) => r.scopes);
  const allowed = [...new Set([...own, ...ofResources])];
  const requested = parseScope(params.get('scope'));
  requireScopesOfRequestedResources(requested, identifiers, index);
  requireSubset(requested, allowed);
  // without a scope parameter: every scope of the APIs it asked for, or without resource its own scopes
  const scope = requested.length ? requested : resources.length ? [...new Set(ofResources)] : own;
  const target = resources.length ? resourceTarget(provider.settings, index, resources, false) : defaultTarget(provider.settings, client);
  const access = await issueAccessToken(provider, { subject: client.clientId, clientId: client.clientId, scope, target });
  const { audience, resources: granted } = auditTarget(target);
  return {
    body: { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope: scope.join(' ') },
    audit: [
      {
        action: 'token.issued.client_credentials',
        scopes: scope,
        ...(audience ? { audience } : {}),
        details: {
          jti: access.jti,
          issued_at: access.issuedAt.toISOString(),
          expires_at: access.expiresAt.toISOString(),
          ...(granted ? { resources: granted } : {}),
        },
      },
    ],
  };
}
