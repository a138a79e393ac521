import { ACR_LADDER } from '../acr';
import type { ProviderSettings } from '../ports';
import { reply } from '../respond';

export const PATHS = {
  discovery: '/.well-known/openid-configuration',
  jwks: '/oidc/jwks',
  authorization: '/oidc/authorize',
  token: '/oidc/token',
  userinfo: '/oidc/userinfo',
  revocation: '/oidc/revoke',
  introspection: '/oidc/introspect',
  endSession: '/oidc/end-session',
} as const;

export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** OpenID Connect Discovery 1.0 / RFC 8414 metadata. */
export function discoveryDocument(settings: ProviderSettings): Record<string, unknown> {
  const at = (path: string) => `${settings.issuer}${path}`;
  return {
    issuer: settings.issuer,
    authorization_endpoint: at(PATHS.authorization),
    token_endpoint: at(PATHS.token),
    userinfo_endpoint: at(PATHS.userinfo),
    jwks_uri: at(PATHS.jwks),
    revocation_endpoint: at(PATHS.revocation),
    introspection_endpoint: at(PATHS.introspection),
    end_session_endpoint: at(PATHS.endSession),
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    // RFC 9068 access tokens: ES256 by default (or the client's access_token_signed_response_alg), a
    // resource server's own alg (RS256 by default) for tokens requested with `resource` (RFC 8707). Without
    // `resource` a token's aud is this issuer, the audience userinfo requires.
    access_token_signing_alg_values_supported: ['ES256', 'RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'at_hash',
      'sid',
      'amr',
      'acr',
      'name',
      'given_name',
      'family_name',
      'updated_at',
      'email',
      'email_verified',
    ],
    claims_parameter_supported: true,
    // the acr ladder, weakest first (README "acr ladder")
    acr_values_supported: [...ACR_LADDER],
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    prompt_values_supported: ['none', 'login', 'consent'],
    authorization_response_iss_parameter_supported: true,
    frontchannel_logout_supported: false,
    backchannel_logout_supported: false,
  };
}

/** Serialised once per settings object: the document only changes with configuration. */
const cache = new WeakMap<ProviderSettings, string>();

export function discoveryEndpoint(settings: ProviderSettings): Response {
  let body = cache.get(settings);
  if (!body) cache.set(settings, (body = JSON.stringify(discoveryDocument(settings))));
  return reply(body, {
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=3600' },
  });
}
