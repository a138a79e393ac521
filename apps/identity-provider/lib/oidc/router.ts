import { authorizationEndpoint, resumeAuthorization } from './endpoints/authorize';
import { discoveryEndpoint, PATHS } from './endpoints/discovery';
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
import type { Provider, RequestContext } from './ports';

export type Endpoint = (request: Request, ctx: RequestContext, provider: Provider) => Promise<Response> | Response;

/** Protocol endpoints that need no page rendering: served by the server's fast path and by route handlers. */
export const PROTOCOL_ENDPOINTS: Record<string, { methods: string[]; handler: Endpoint; cors: boolean }> = {
  [PATHS.discovery]: { methods: ['GET'], handler: (_r, _c, p) => discoveryEndpoint(p.settings), cors: true },
  [PATHS.jwks]: { methods: ['GET'], handler: (r, _c, p) => jwksEndpoint(r, p.keys, p.settings.jwksMaxAgeSeconds), cors: true },
  [PATHS.token]: { methods: ['POST'], handler: tokenEndpoint, cors: true },
  [PATHS.userinfo]: { methods: ['GET', 'POST'], handler: userinfoEndpoint, cors: true },
  [PATHS.introspection]: { methods: ['POST'], handler: introspectionEndpoint, cors: true },
  [PATHS.revocation]: { methods: ['POST'], handler: revocationEndpoint, cors: true },
};

/** Browser-facing protocol endpoints: they read and write the provider's session cookie. */
export const BROWSER_ENDPOINTS: Record<string, { methods: string[]; handler: Endpoint }> = {
  [PATHS.authorization]: { methods: ['GET', 'POST'], handler: authorizationEndpoint },
  '/oidc/authorize/resume': { methods: ['GET'], handler: resumeAuthorization },
  [PATHS.endSession]: { methods: ['GET', 'POST'], handler: endSessionEndpoint },
  '/interaction/start': { methods: ['GET'], handler: startSignIn },
  '/interaction/login': { methods: ['POST'], handler: loginAction },
  '/interaction/consent': { methods: ['POST'], handler: consentAction },
  '/interaction/password': { methods: ['POST'], handler: changePasswordAction },
  '/interaction/logout': { methods: ['POST'], handler: logoutAction },
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
