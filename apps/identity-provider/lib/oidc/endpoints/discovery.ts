import { ACR_LADDER } from '../acr';
import type { ProviderSettings } from '../ports';
import { reply } from '../respond';

/** The metadata members naming an endpoint's URL, in the document's order. */
export const ENDPOINT_MEMBERS = [
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'revocation_endpoint',
  'introspection_endpoint',
  'end_session_endpoint',
] as const;
export type EndpointMember = (typeof ENDPOINT_MEMBERS)[number];
/** Metadata member -> the path of its route (router.ts ROUTES says which route is which). */
export type EndpointPaths = Readonly<Record<EndpointMember, string>>;

export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** OpenID Connect Discovery 1.0 / RFC 8414 metadata. */
export function discoveryDocument(settings: ProviderSettings, paths: EndpointPaths): Record<string, unknown> {
  const endpoints: Record<string, string> = {};
  for (const member of ENDPOINT_MEMBERS) endpoints[member] = `${settings.issuer}${paths[member]}`;
  return {
    issuer: settings.issuer,
    ...endpoints,
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

export function discoveryEndpoint(settings: ProviderSettings, paths: EndpointPaths): Response {
  let body = cache.get(settings);
  if (!body) cache.set(settings, (body = JSON.stringify(discoveryDocument(settings, paths))));
  return reply(body, {
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=3600' },
  });
}
