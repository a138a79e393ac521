import type { AuthorizationCodeGrant, OAuthClient } from '../domain';
import { randomToken } from '../crypto';
import { claimsFor } from '../endpoints/userinfo';
import { InvalidGrant, withAudit } from '../errors';
import type { Provider } from '../ports';
import { required, resourcesOf, type FormParams } from '../steps/parse-form';
import { auditTarget, defaultTarget, narrowResources, resolveResources, resourceTarget, scopesFor } from '../steps/resource';
import { verifyPkce, PkceFailed } from '../steps/pkce';
import { issueAccessToken, issueIdToken } from '../tokens';
import type { GrantResult } from './types';

/**
 * What the ID token says about the sign-in (amr, acr: README "acr ladder"), and the claims a `claims`
 * request asked for in it (OIDC Core 5.5) among those its scopes grant. Only that request costs a user
 * lookup here; the amr/acr came with the code.
 */
async function authenticationClaims(grant: AuthorizationCodeGrant, provider: Provider): Promise<Record<string, unknown>> {
  const authn = grant.authentication;
  if (!authn) return {};
  const claims: Record<string, unknown> = { amr: authn.amr, acr: authn.acr };
  if (authn.idTokenClaims.length) {
    const user = await provider.store.users.findById(grant.userId);
    const granted = user ? claimsFor(user, grant.scope) : {};
    for (const name of authn.idTokenClaims) if (Object.hasOwn(granted, name)) claims[name] = granted[name];
  }
  return claims;
}

/** RFC 6749 4.1.3, OIDC Core 3.1.3, RFC 7636 4.5: exchange a code for tokens. */
export async function authorizationCodeGrant(params: FormParams, client: OAuthClient, provider: Provider): Promise<GrantResult> {
  const code = required(params, 'code');
  const redirectUri = required(params, 'redirect_uri');
  const consumed = await provider.store.grants.consumeAuthorizationCode(code);

  if (consumed.status === 'replayed') {
    // RFC 6749 4.1.2 / RFC 9700 4.5: a second use revokes everything issued from the code
    throw Object.assign(
      withAudit(new InvalidGrant('The authorization code has already been used'), 'token.code_replayed', {
        reason: 'invalid_grant',
        family_id: consumed.familyId,
        revoked_refresh_tokens: consumed.revokedRefreshTokens,
        code_client_id: consumed.clientId,
      }),
      { reusedToken: 'authorization_code' as const },
    );
  }
  if (consumed.status === 'expired')
    throw withAudit(new InvalidGrant('The authorization code has expired'), 'token.code_invalid', { reason: 'invalid_grant', cause: 'expired' });
  if (consumed.status === 'revoked')
    throw withAudit(new InvalidGrant('The authorization code has been revoked'), 'token.code_invalid', { reason: 'invalid_grant', cause: 'revoked' });
  if (consumed.status === 'not_found')
    throw withAudit(new InvalidGrant('The authorization code is invalid'), 'token.code_invalid', { reason: 'invalid_grant', cause: 'unknown' });

  const { grant } = consumed;
  if (grant.clientId !== client.clientId) {
    throw withAudit(new InvalidGrant('The authorization code was issued to another client'), 'token.code_invalid', {
      reason: 'invalid_grant',
      cause: 'client_mismatch',
      family_id: grant.familyId,
    });
  }
  if (grant.redirectUri !== redirectUri) {
    throw withAudit(new InvalidGrant('redirect_uri does not match the authorization request'), 'token.code_invalid', {
      reason: 'invalid_grant',
      cause: 'redirect_uri_mismatch',
      family_id: grant.familyId,
    });
  }
  try {
    verifyPkce(grant.codeChallenge, params.get('code_verifier'));
  } catch (error) {
    if (error instanceof PkceFailed) throw withAudit(error, 'token.pkce_failed', { reason: 'invalid_grant', family_id: grant.familyId });
    throw error;
  }

  // RFC 8707 2.2: the token is for the resources granted at the authorization endpoint, or for the subset
  // this request names; its scope holds only what belongs to them (an API's scopes go to that API alone)
  const identifiers = narrowResources(resourcesOf(params), grant.resources);
  const { index, resources } = await resolveResources(provider, client, identifiers);
  const scope = scopesFor(grant.scope, identifiers, index);
  const target = resources.length ? resourceTarget(provider.settings, index, resources, scope.includes('openid')) : defaultTarget(provider.settings, client);
  const access = await issueAccessToken(provider, {
    subject: grant.userId,
    clientId: client.clientId,
    scope,
    familyId: grant.familyId,
    authTime: grant.authTime,
    sid: grant.sid,
    target,
  });
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: scope.join(' '),
  };
  if (grant.scope.includes('openid')) {
    const id = await issueIdToken(provider, {
      subject: grant.userId,
      clientId: client.clientId,
      alg: client.idTokenSignedResponseAlg,
      authTime: grant.authTime,
      nonce: grant.nonce,
      sid: grant.sid,
      accessToken: access.token,
      extraClaims: await authenticationClaims(grant, provider),
    });
    body.id_token = id.token;
  }
  let refreshExpiresAt: Date | null = null;
  if (client.grantTypes.includes('refresh_token') && grant.scope.includes('offline_access')) {
    const refreshToken = randomToken(32);
    refreshExpiresAt = (
      await provider.store.grants.issueRefreshToken({
        token: refreshToken,
        familyId: grant.familyId,
        clientId: client.clientId,
        userId: grant.userId,
        scope: grant.scope,
        ttlSeconds: provider.settings.ttl.refreshToken,
      })
    ).expiresAt;
    body.refresh_token = refreshToken;
  }
  const { audience, resources: granted } = auditTarget(target);
  return {
    body,
    audit: [
      {
        action: 'token.issued.authorization_code',
        userId: grant.userId,
        scopes: scope,
        ...(audience ? { audience } : {}),
        details: {
          jti: access.jti,
          family_id: grant.familyId,
          issued_at: access.issuedAt.toISOString(),
          expires_at: access.expiresAt.toISOString(),
          id_token: 'id_token' in body,
          refresh_token_expires_at: refreshExpiresAt?.toISOString() ?? null,
          ...(granted ? { resources: granted } : {}),
        },
      },
    ],
  };
}
