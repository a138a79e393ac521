import type { OAuthClient } from '@idp/database-identity';
import { UnauthorizedClient } from '../errors';
import type { Provider } from '../ports';
import type { FormParams } from '../steps/parse-form';
import { parseScope, requireSubset } from '../steps/scope';
import { issueAccessToken } from '../tokens';
import type { GrantResult } from './types';

/** Scopes that describe an end user; meaningless for a client acting on its own behalf. */
const USER_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** RFC 6749 4.4: a confidential client acting for itself. Access token only (no ID or refresh token). */
export async function clientCredentialsGrant(params: FormParams, client: OAuthClient, provider: Provider): Promise<GrantResult> {
  if (client.tokenEndpointAuthMethod === 'none') throw new UnauthorizedClient('Public clients cannot use client_credentials');
  const allowed = client.scopes.filter((s) => !USER_SCOPES.includes(s));
  const requested = parseScope(params.get('scope'));
  requireSubset(requested, allowed);
  const scope = requested.length ? requested : allowed;
  const access = await issueAccessToken(provider, { subject: client.clientId, clientId: client.clientId, scope });
  return {
    body: { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope: scope.join(' ') },
    audit: [{
      action: 'token.issued.client_credentials',
      scopes: scope,
      details: { jti: access.jti, issued_at: access.issuedAt.toISOString(), expires_at: access.expiresAt.toISOString() },
    }],
  };
}
