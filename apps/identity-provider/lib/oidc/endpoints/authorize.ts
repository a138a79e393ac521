import type { OAuthClient, Session, User } from '../domain';
import { randomToken } from '../crypto';
import { ACR, acrForToken, acrLevel, acrRequirement, minimumAcr, parseClaimsParameter, type ClaimsRequest } from '../acr';
import {
  asOAuthError,
  ConsentRequired,
  InvalidClientId,
  InvalidRedirectUri,
  InvalidRequest,
  InvalidScope,
  InvalidToken,
  LoginRequired,
  OAuthError,
  RequestNotSupported,
  RequestUriNotSupported,
  UnauthorizedClient,
  UnmetAuthenticationRequirements,
  UnsupportedResponseType,
} from '../errors';
import { secondFactorPolicy } from '../second-factor';
import { enrolmentPath, secondFactorPath } from '../steps/sign-in';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorPage, redirect } from '../respond';
import { newInteractionId, pendingInteraction, readBrowserSession, sessionCookie, type BrowserSession, type PendingAuthorization } from '../session';
import { paramsFrom, resourcesOf } from '../steps/parse-form';
import { isResourceScope, requireScopesOfRequestedResources, resolveResources } from '../steps/resource';
import { PKCE_VALUE } from '../steps/pkce';
import { parseScope } from '../steps/scope';
import { verifyIdTokenHint } from '../tokens';
import { SUPPORTED_SCOPES } from './discovery';

export const INTERACTION_PATHS = {
  login: '/login',
  consent: '/consent',
  password: '/password',
  resume: '/oidc/authorize/resume',
  mfa: '/mfa',
  security: '/account/security',
} as const;

/** A request that passed validation: what the rest of the flow works from. */
export interface AuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  scope: string[];
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  prompt: Set<string>;
  maxAge?: number;
  loginHint?: string;
  /** RFC 8707: the resource servers the tokens of this grant are for (empty: the default audience). */
  resources: string[];
  /** acr_values or an acr request of `claims` (README "acr ladder"). */
  acr: ReturnType<typeof acrRequirement>;
  /** The `claims` parameter (OIDC Core 5.5), parsed and bounded. */
  claims: ClaimsRequest | null;
}

/** Authorization endpoint (OIDC Core 3.1.2, RFC 6749 4.1.1): GET with a query, or POST with a form. */
export async function authorizationEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  let params: Map<string, string>;
  try {
    params = request.method === 'POST' ? paramsFrom(new URLSearchParams(await request.text())) : paramsFrom(new URL(request.url).searchParams);
  } catch (error) {
    return failedPage(ctx, asOAuthError(error));
  }
  const browser = await readBrowserSession(request, provider.settings);
  return authorize(Object.fromEntries(params), browser, null, provider, ctx);
}

/** Where login, consent and password change return to: continues the stored request. */
export async function resumeAuthorization(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const id = new URL(request.url).searchParams.get('interaction') ?? '';
  const browser = await readBrowserSession(request, provider.settings);
  const pending = pendingInteraction(browser, id);
  if (!pending) return failedPage(ctx, new InvalidRequest('This sign-in request has expired or was already completed'));
  return authorize(pending.params, browser, { id, pending }, provider, ctx);
}

async function authorize(
  raw: Record<string, string>,
  browser: BrowserSession,
  interaction: { id: string; pending: PendingAuthorization } | null,
  provider: Provider,
  ctx: RequestContext,
): Promise<Response> {
  // Step 1: client and redirect URI. Until both are trusted, errors are shown, never redirected.
  let client: OAuthClient;
  let redirectUri: string;
  try {
    ({ client, redirectUri } = await checkClientAndRedirect(raw, provider));
  } catch (error) {
    return failedPage(ctx, asOAuthError(error));
  }
  const fail = (error: OAuthError) => {
    reportOutcome(ctx, { result: 'failure', error: error.code });
    return redirectWithError(redirectUri, error, raw.state, provider.settings.issuer);
  };
  const toPage = (response: Response | Promise<Response>) => {
    reportOutcome(ctx, { result: 'pending_interaction' });
    return response;
  };

  try {
    // Step 2: the rest of the request.
    const req = await checkRequest(raw, client, redirectUri, provider);
    const now = provider.now().getTime();

    // Step 3: who is signed in, and is that good enough for this request?
    const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
    const user = session ? await provider.store.users.findById(session.userId) : null;
    const loggedInNow = interaction?.pending.loginAt !== undefined && interaction.pending.loginAt >= interaction.pending.createdAt;
    const tooOld = req.maxAge !== undefined && session && now - session.authTime.getTime() > req.maxAge * 1000;
    // OIDC Core 3.1.2.1: the hint names the user the client expects; anyone else signs in (again) first
    const hinted = raw.id_token_hint ? await hintedSubject(raw.id_token_hint, client, provider) : null;
    const notTheHintedUser = hinted !== null && user !== null && user.id !== hinted && !loggedInNow;
    const needsLogin = !session || !user || (req.prompt.has('login') && !loggedInNow) || (tooOld && !loggedInNow) || notTheHintedUser;
    if (needsLogin || user!.mustChangePassword) {
      if (req.prompt.has('none')) return fail(new LoginRequired());
      return toPage(toInteraction(needsLogin ? INTERACTION_PATHS.login : INTERACTION_PATHS.password, raw, browser, interaction, provider, now));
    }

    // Step 3b: is the sign-in strong enough for acr_values / claims and the second-factor policy?
    const stepUp = await checkAuthenticationStrength(req, session!, user!, provider);
    if (stepUp.kind === 'unmet') return fail(new UnmetAuthenticationRequirements());
    if (stepUp.kind !== 'ok') {
      if (req.prompt.has('none')) return fail(new LoginRequired('A stronger authentication is required'));
      const id = interaction?.id ?? newInteractionId();
      browser.interactions[id] = interaction?.pending ?? { params: raw, createdAt: now };
      if (stepUp.kind === 'enrol')
        return toPage(redirect(enrolmentPath({ interactionId: id }), { 'Set-Cookie': await sessionCookie(browser, provider.settings) }));
      browser.mfa = { userId: user!.id, amr: session!.amr, at: now, need: stepUp.need, interactionId: id, stepUp: true };
      return toPage(redirect(secondFactorPath({ interactionId: id }), { 'Set-Cookie': await sessionCookie(browser, provider.settings) }));
    }

    // Step 4: consent, unless first-party or already granted for every requested scope.
    const granted = client.firstParty ? req.scope : await provider.store.consents.find(user!.id, client.clientId);
    const missing = req.scope.filter((s) => !granted.includes(s));
    const consentedNow = interaction?.pending.consentAt !== undefined;
    const needsConsent = !client.firstParty && ((missing.length > 0 && !consentedNow) || (req.prompt.has('consent') && !consentedNow));
    if (needsConsent) {
      if (req.prompt.has('none')) return fail(new ConsentRequired());
      return toPage(toInteraction(INTERACTION_PATHS.consent, raw, browser, interaction, provider, now));
    }

    // Step 5: issue the code and send the browser back (RFC 9207: with iss).
    const code = randomToken(32);
    await provider.store.grants.createAuthorizationCode({
      code,
      clientId: client.clientId,
      userId: user!.id,
      sid: session!.sid,
      redirectUri,
      scope: req.scope,
      nonce: req.nonce ?? null,
      codeChallenge: req.codeChallenge ?? null,
      codeChallengeMethod: req.codeChallenge ? 'S256' : null,
      authTime: session!.authTime,
      ttlSeconds: provider.settings.ttl.authorizationCode,
      resources: req.resources,
      authentication: {
        amr: session!.amr,
        acr: acrForToken(session!.acr, req.acr?.values),
        idTokenClaims: req.claims?.idToken.filter((name) => ID_TOKEN_CLAIMS_BY_REQUEST.has(name)) ?? [],
      },
    });
    if (interaction) delete browser.interactions[interaction.id];
    const location = withParams(redirectUri, { code, state: req.state, iss: provider.settings.issuer });
    reportOutcome(ctx, { result: 'success' });
    return redirect(location, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
  } catch (error) {
    const oauthError = asOAuthError(error);
    if (oauthError.code === 'server_error') {
      // logged and answered by the HTTP edge from the cause
      reportOutcome(ctx, { result: 'failure' });
      throw error;
    }
    return fail(oauthError);
  }
}

/** An error the browser is shown, not redirected with: the client or its redirect URI is not to be trusted. */
function failedPage(ctx: RequestContext, error: OAuthError): Response {
  reportOutcome(ctx, { result: 'failure' });
  return errorPage(error);
}

/** The subject of an id_token_hint: an ID token this provider issued to this client (expired is fine). */
async function hintedSubject(hint: string, client: OAuthClient, provider: Provider): Promise<string> {
  try {
    return (await verifyIdTokenHint(provider, hint, client.clientId)).sub;
  } catch (error) {
    if (error instanceof InvalidToken) throw new InvalidRequest('id_token_hint is not a valid ID token issued to this client');
    throw error;
  }
}

async function checkClientAndRedirect(raw: Record<string, string>, provider: Provider): Promise<{ client: OAuthClient; redirectUri: string }> {
  if (!raw.client_id) throw new InvalidClientId('The client_id parameter is missing');
  const client = await provider.clients.get(raw.client_id);
  if (!client) throw new InvalidClientId('The client_id is not registered');
  // OIDC Core 3.1.2.1: redirect_uri is required and must exactly match a registered value
  if (!raw.redirect_uri) throw new InvalidRedirectUri('The redirect_uri parameter is missing');
  if (!client.redirectUris.includes(raw.redirect_uri)) throw new InvalidRedirectUri('The redirect_uri is not registered for this client');
  return { client, redirectUri: raw.redirect_uri };
}

async function checkRequest(raw: Record<string, string>, client: OAuthClient, redirectUri: string, provider: Provider): Promise<AuthorizationRequest> {
  if (raw.request) throw new RequestNotSupported();
  if (raw.request_uri) throw new RequestUriNotSupported();
  if (!raw.response_type) throw new InvalidRequest('The response_type parameter is missing');
  if (raw.response_type !== 'code') throw new UnsupportedResponseType();
  if (raw.response_mode && raw.response_mode !== 'query') throw new InvalidRequest('Only response_mode=query is supported');
  if (!client.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('The client is not allowed to use the authorization code flow');

  const scope = parseScope(raw.scope);
  if (!scope.length) throw new InvalidScope('The scope parameter is missing');
  // RFC 8707: every resource registered and allowed for this client; an API's scopes only with that API
  const { index, resources } = await resolveResources(provider, client, resourcesOf(raw));
  const identifiers = resources.map((r) => r.identifier);
  const unknown = scope.filter((s) => !isResourceScope(s, index) && (!SUPPORTED_SCOPES.includes(s) || !client.scopes.includes(s)));
  if (unknown.length) throw new InvalidScope(`The requested scope is not allowed for this client: ${unknown.join(' ')}`);
  requireScopesOfRequestedResources(scope, identifiers, index);
  // resources that cannot share one token (alg, claims) may still be granted together: each token
  // request then names one of them (RFC 8707 2.2)

  // PKCE (RFC 7636): S256 only; required of public clients; binding on confidential clients that use it
  if (raw.code_challenge_method && raw.code_challenge_method !== 'S256') throw new InvalidRequest('code_challenge_method must be S256');
  if (raw.code_challenge && !PKCE_VALUE.test(raw.code_challenge)) throw new InvalidRequest('code_challenge is malformed');
  if (raw.code_challenge && !raw.code_challenge_method) throw new InvalidRequest('code_challenge_method=S256 is required with code_challenge');
  if (!raw.code_challenge && client.tokenEndpointAuthMethod === 'none')
    throw new InvalidRequest('PKCE (code_challenge with S256) is required for public clients');

  const prompt = new Set(parseScope(raw.prompt));
  for (const value of prompt)
    if (!['none', 'login', 'consent', 'select_account'].includes(value)) throw new InvalidRequest(`Unsupported prompt value: ${value}`);
  if (prompt.has('none') && prompt.size > 1) throw new InvalidRequest('prompt=none cannot be combined with other values');

  let maxAge: number | undefined;
  if (raw.max_age !== undefined) {
    if (!/^\d{1,10}$/.test(raw.max_age)) throw new InvalidRequest('max_age must be a non-negative integer');
    maxAge = Number(raw.max_age);
  }
  if (new URL(redirectUri).hash) throw new InvalidRequest('redirect_uri must not contain a fragment');
  const claims = parseClaimsParameter(raw.claims);
  return {
    client,
    redirectUri,
    scope,
    state: raw.state,
    nonce: raw.nonce,
    codeChallenge: raw.code_challenge,
    prompt,
    maxAge,
    loginHint: raw.login_hint,
    resources: identifiers,
    claims,
    acr: acrRequirement(raw.acr_values, claims),
  };
}

/** Claims a `claims` request may put into the ID token (when the granted scopes cover them; tokens.ts). */
const ID_TOKEN_CLAIMS_BY_REQUEST = new Set(['name', 'given_name', 'family_name', 'updated_at', 'email', 'email_verified']);

type StrengthCheck = { kind: 'ok' } | { kind: 'step_up'; need: 'mfa' | 'phr' } | { kind: 'enrol' } | { kind: 'unmet' };

/**
 * Whether the session is strong enough (README "acr ladder"). A requested level (acr_values, voluntary; or
 * an essential `claims` acr) above the session's means a step-up when the user has a factor that reaches
 * it; a voluntary request the user cannot meet is answered with the level they have, an essential one is
 * `unmet_authentication_requirements`. The policy (role, client, enrolled user) asks for mfa; a user it
 * requires to have a second factor who has none is sent to enrol once the grace period is over (at once
 * for a client that requires MFA). Sessions at mfa or above skip the policy's database read.
 */
async function checkAuthenticationStrength(req: AuthorizationRequest, session: Session, user: User, provider: Provider): Promise<StrengthCheck> {
  const level = acrLevel(session.acr);
  const requested = minimumAcr(req.acr);
  if (req.acr?.essential && req.acr.unknownOnly) return { kind: 'unmet' };
  const wantsMore = requested !== null && acrLevel(requested) > level;
  if (!wantsMore && level >= acrLevel(ACR.mfa)) return { kind: 'ok' };
  const policy = await secondFactorPolicy(provider, user, req.client.clientId);
  if (wantsMore) {
    const reachable = requested === ACR.phr ? policy.factors.passkeys > 0 : policy.enrolled;
    if (reachable) return { kind: 'step_up', need: requested === ACR.phr ? 'phr' : 'mfa' };
    if (req.acr!.essential) return { kind: 'unmet' };
  }
  if (level >= acrLevel(ACR.mfa)) return { kind: 'ok' };
  if (policy.enrolled) return { kind: 'step_up', need: 'mfa' };
  if (policy.required && !policy.graceUntil) return { kind: 'enrol' };
  return { kind: 'ok' };
}

async function toInteraction(
  path: string,
  raw: Record<string, string>,
  browser: BrowserSession,
  interaction: { id: string; pending: PendingAuthorization } | null,
  provider: Provider,
  now: number,
): Promise<Response> {
  const id = interaction?.id ?? newInteractionId();
  browser.interactions[id] = interaction?.pending ?? { params: raw, createdAt: now };
  return redirect(`${path}?interaction=${id}`, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

export function withParams(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

/** RFC 6749 4.1.2.1 + RFC 9207: error, error_description, state and iss on the client's redirect URI. */
export function redirectWithError(redirectUri: string, error: OAuthError, state: string | undefined, issuer: string): Response {
  return redirect(withParams(redirectUri, { error: error.code, error_description: error.description, state, iss: issuer }));
}

/** What the login and consent pages show about a pending request. */
export async function describeInteraction(
  request: Request,
  id: string,
  provider: Provider,
): Promise<{
  client: Pick<OAuthClient, 'clientId' | 'name' | 'firstParty'>;
  scopes: string[];
  loginHint?: string;
  csrf: string;
  user: Pick<User, 'email' | 'name'> | null;
} | null> {
  const browser = await readBrowserSession(request, provider.settings);
  const pending = pendingInteraction(browser, id);
  if (!pending) return null;
  const client = await provider.clients.get(pending.params.client_id);
  if (!client) return null;
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  return {
    client: { clientId: client.clientId, name: client.name, firstParty: client.firstParty },
    scopes: parseScope(pending.params.scope),
    loginHint: pending.params.login_hint,
    csrf: browser.csrf,
    user: user ? { email: user.email, name: user.name } : null,
  };
}
