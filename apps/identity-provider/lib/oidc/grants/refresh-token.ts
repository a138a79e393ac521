import type { OAuthClient } from '../domain';
import { randomToken } from '../crypto';
import { InvalidGrant, withAudit } from '../errors';
import type { Provider } from '../ports';
import { required, resourcesOf, type FormParams } from '../steps/parse-form';
import { auditTarget, defaultTarget, narrowResources, requireScopesOfRequestedResources, resolveResources, resourceTarget, scopesFor } from '../steps/resource';
import { parseScope, requireSubset } from '../steps/scope';
import { issueAccessToken, issueIdToken } from '../tokens';
import type { GrantResult } from './types';

/**
 * RFC 6749 6 with rotation (RFC 9700 4.14.2): every use returns a new refresh token in the same family;
 * presenting an already-rotated token revokes the whole family.
 */
export async function refreshTokenGrant(params: FormParams, client: OAuthClient, provider: Provider): Promise<GrantResult> {
  const presented = required(params, 'refresh_token');
  const known = await provider.store.grants.findRefreshToken(presented);
  if (!known)
    throw withAudit(new InvalidGrant('The refresh token is invalid'), 'token.validation_failed', { reason: 'invalid_grant', cause: 'unknown_refresh_token' });
  if (known.clientId !== client.clientId) {
    throw withAudit(new InvalidGrant('The refresh token was issued to another client'), 'token.validation_failed', {
      reason: 'invalid_grant',
      cause: 'client_mismatch',
      family_id: known.familyId,
    });
  }
  const requested = parseScope(params.get('scope'));
  requireSubset(requested.length ? requested : known.scope, known.scope, 'The requested scope exceeds the original grant');
  // RFC 8707 2.2: a refresh may narrow the token to some of the granted resources (the grant keeps them
  // all). Checked before the rotation: a refused request must leave the client its refresh token.
  const identifiers = narrowResources(resourcesOf(params), known.resources);
  const { index, resources } = await resolveResources(provider, client, identifiers);
  requireScopesOfRequestedResources(requested, identifiers, index);
  const scope = requested.length ? requested : scopesFor(known.scope, identifiers, index);
  const target = resources.length ? resourceTarget(provider.settings, index, resources, scope.includes('openid')) : defaultTarget(provider.settings, client);

  const replacement = randomToken(32);
  const rotated = await provider.store.grants.rotateRefreshToken(presented, replacement, provider.settings.ttl.refreshToken);
  switch (rotated.status) {
    case 'reused':
      throw Object.assign(
        withAudit(new InvalidGrant('The refresh token has already been used'), 'token.refresh_reused', {
          reason: 'invalid_grant',
          family_id: rotated.familyId,
          revoked_refresh_tokens: rotated.revokedRefreshTokens,
        }),
        { reusedToken: 'refresh_token' as const },
      );
    case 'revoked':
      throw withAudit(new InvalidGrant('The refresh token has been revoked'), 'token.validation_failed', {
        reason: 'invalid_grant',
        cause: 'revoked',
        family_id: known.familyId,
      });
    case 'expired':
      throw withAudit(new InvalidGrant('The refresh token has expired'), 'token.expired', {
        reason: 'invalid_grant',
        token_type: 'refresh_token',
        family_id: known.familyId,
      });
    case 'not_found':
      throw withAudit(new InvalidGrant('The refresh token is invalid'), 'token.validation_failed', { reason: 'invalid_grant', cause: 'unknown_refresh_token' });
  }
  const { record } = rotated;
  const subject = record.userId ?? client.clientId;
  const access = await issueAccessToken(provider, {
    subject,
    clientId: client.clientId,
    scope,
    familyId: record.familyId,
    authTime: record.authTime,
    sid: record.sid,
    target,
  });
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: scope.join(' '),
    refresh_token: replacement,
  };
  if (scope.includes('openid') && record.userId && record.authTime) {
    // OIDC Core 12.2: a refreshed ID token keeps auth_time and carries no nonce
    body.id_token = (
      await issueIdToken(provider, {
        subject,
        clientId: client.clientId,
        alg: client.idTokenSignedResponseAlg,
        authTime: record.authTime,
        sid: record.sid,
        accessToken: access.token,
      })
    ).token;
  }
  const { audience, resources: granted } = auditTarget(target);
  const details = {
    jti: access.jti,
    family_id: record.familyId,
    issued_at: access.issuedAt.toISOString(),
    expires_at: access.expiresAt.toISOString(),
    refresh_token_expires_at: record.expiresAt.toISOString(),
    ...(granted ? { resources: granted } : {}),
  };
  const withAudience = audience ? { audience } : {};
  return {
    body,
    audit: [
      {
        action: 'token.refreshed',
        userId: record.userId,
        scopes: scope,
        ...withAudience,
        details: { family_id: record.familyId, previous_issued_at: record.createdAt.toISOString(), ...(granted ? { resources: granted } : {}) },
      },
      { action: 'token.issued.refresh_token', userId: record.userId, scopes: scope, ...withAudience, details },
    ],
  };
}
