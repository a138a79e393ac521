import { authorizationEndpoint, resumeAuthorization } from './endpoints/authorize';
import { discoveryEndpoint, ENDPOINT_MEMBERS, type EndpointMember, type EndpointPaths } from './endpoints/discovery';
import { endSessionEndpoint, logoutAction } from './endpoints/end-session';
import {
  passkeyRegisterAction,
  passkeyRemoveAction,
  passkeyRenameAction,
  recoveryCodesAction,
  totpBeginAction,
  totpConfirmAction,
  totpRemoveAction,
} from './endpoints/account-security';
import { secondFactorAction, startStepUp, webauthnAuthenticateAction, webauthnOptionsAction } from './endpoints/second-factor';
import { changePasswordAction, consentAction, loginAction, startSignIn } from './endpoints/interaction';
import { introspectionEndpoint } from './endpoints/introspect';
import { forgotPasswordAction, resetLinkEndpoint, resetPasswordAction, verifyEmailAction, verifyLinkEndpoint } from './endpoints/recovery';
import { jwksEndpoint } from './endpoints/jwks';
import { revocationEndpoint } from './endpoints/revoke';
import { tokenEndpoint } from './endpoints/token';
import { userinfoEndpoint } from './endpoints/userinfo';
import type { Operation } from './outcome';
import type { Provider, RequestContext } from './ports';

export type Endpoint = (request: Request, ctx: RequestContext, provider: Provider) => Promise<Response> | Response;

export interface Route {
  methods: readonly string[];
  handler: Endpoint;
  /** Answers browsers of registered clients' origins (CORS headers, preflights): the endpoints a SPA calls. */
  cors?: true;
  /** What the request is for the metrics: its latency series, and the OAuth step its outcome counts for. */
  operation?: Operation;
  /** The discovery metadata member that publishes this route's URL. */
  discovery?: EndpointMember;
}

/**
 * Every path the protocol core answers, and the one list of them: the HTTP edge dispatches through it (both
 * hosts: the server's fast path and the Next route handlers, one file per route under app/, which
 * router.test.ts checks), the metrics label requests by its `operation`, discovery publishes its URLs. The
 * protocol endpoints render no page; the browser-facing ones (authorize, end-session, interaction forms)
 * read and write the provider's session cookie.
 */
export const ROUTES: Readonly<Record<string, Route>> = {
  '/.well-known/openid-configuration': { methods: ['GET'], handler: (_r, _c, p) => discoveryEndpoint(p.settings, DISCOVERED_PATHS), cors: true },
  '/oidc/jwks': { methods: ['GET'], handler: (r, _c, p) => jwksEndpoint(r, p.keys, p.settings.jwksMaxAgeSeconds), cors: true, discovery: 'jwks_uri' },
  '/oidc/token': { methods: ['POST'], handler: tokenEndpoint, cors: true, operation: 'token', discovery: 'token_endpoint' },
  '/oidc/userinfo': { methods: ['GET', 'POST'], handler: userinfoEndpoint, cors: true, operation: 'userinfo', discovery: 'userinfo_endpoint' },
  '/oidc/introspect': { methods: ['POST'], handler: introspectionEndpoint, cors: true, operation: 'introspect', discovery: 'introspection_endpoint' },
  '/oidc/revoke': { methods: ['POST'], handler: revocationEndpoint, cors: true, operation: 'revoke', discovery: 'revocation_endpoint' },
  '/oidc/authorize': { methods: ['GET', 'POST'], handler: authorizationEndpoint, operation: 'authorize', discovery: 'authorization_endpoint' },
  '/oidc/authorize/resume': { methods: ['GET'], handler: resumeAuthorization, operation: 'authorize' },
  '/oidc/end-session': { methods: ['GET', 'POST'], handler: endSessionEndpoint, operation: 'logout', discovery: 'end_session_endpoint' },
  '/interaction/start': { methods: ['GET'], handler: startSignIn },
  '/interaction/login': { methods: ['POST'], handler: loginAction, operation: 'login' },
  '/interaction/consent': { methods: ['POST'], handler: consentAction },
  '/interaction/password': { methods: ['POST'], handler: changePasswordAction },
  '/interaction/logout': { methods: ['POST'], handler: logoutAction, operation: 'logout' },
  '/interaction/forgot-password': { methods: ['GET', 'POST'], handler: forgotPasswordAction },
  '/interaction/reset-link': { methods: ['GET'], handler: resetLinkEndpoint },
  '/interaction/reset-password': { methods: ['POST'], handler: resetPasswordAction },
  '/interaction/verify-link': { methods: ['GET'], handler: verifyLinkEndpoint },
  '/interaction/verify-email': { methods: ['POST'], handler: verifyEmailAction },
  // second factors and passkeys (README "Second factors and passkeys")
  '/interaction/mfa': { methods: ['POST'], handler: secondFactorAction },
  '/interaction/step-up': { methods: ['GET'], handler: startStepUp },
  '/interaction/webauthn/options': { methods: ['POST'], handler: webauthnOptionsAction },
  '/interaction/webauthn/authenticate': { methods: ['POST'], handler: webauthnAuthenticateAction },
  '/interaction/security/totp/begin': { methods: ['POST'], handler: totpBeginAction },
  '/interaction/security/totp/confirm': { methods: ['POST'], handler: totpConfirmAction },
  '/interaction/security/totp/remove': { methods: ['POST'], handler: totpRemoveAction },
  '/interaction/security/recovery-codes': { methods: ['POST'], handler: recoveryCodesAction },
  '/interaction/security/passkeys/register': { methods: ['POST'], handler: passkeyRegisterAction },
  '/interaction/security/passkeys/rename': { methods: ['POST'], handler: passkeyRenameAction },
  '/interaction/security/passkeys/remove': { methods: ['POST'], handler: passkeyRemoveAction },
};

/** The route of a path; own keys only: a path is never `constructor`, `__proto__` or another inherited name. */
export function routeOf(pathname: string): Route | undefined {
  return Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined;
}

/** What discovery publishes: each metadata member's route, taken from the table. */
export const DISCOVERED_PATHS: EndpointPaths = discoveredPaths();

function discoveredPaths(): EndpointPaths {
  const paths: Partial<Record<EndpointMember, string>> = {};
  for (const [path, route] of Object.entries(ROUTES)) if (route.discovery) paths[route.discovery] = path;
  const missing = ENDPOINT_MEMBERS.filter((member) => !paths[member]);
  if (missing.length) throw new Error(`No route publishes ${missing.join(', ')}`);
  return paths as EndpointPaths;
}
