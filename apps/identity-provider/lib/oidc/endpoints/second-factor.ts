import { z } from 'zod';
import { ACR, acrLevel, acrOf, combineAmr } from '../acr';
import { InvalidRequest } from '../errors';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, json, redirect } from '../respond';
import { recordSecondFactorFailure, secondFactorPolicy, verifySecondFactor } from '../second-factor';
import {
  isInteractionId,
  pendingInteraction,
  readBrowserSession,
  SECOND_FACTOR_WINDOW_MS,
  sessionCookie,
  type BrowserSession,
  type PendingSecondFactor,
} from '../session';
import { enforceRateLimits, RateLimited } from '../steps/rate-limit';
import { readJsonCall } from '../steps/read-json';
import { establishSession, secondFactorPath, type SignInTarget } from '../steps/sign-in';
import { authenticationOptions, parseCredentialResponse, passkeyAmr, registrationOptions, verifyAssertion } from '../webauthn';
import { INTERACTION_PATHS } from './authorize';
import { expiredPage, readForm, safeLocalPath, throttledPage } from './interaction';

/** The browser's pending second factor while it is fresh. */
export function livePendingSecondFactor(browser: BrowserSession, now: Date): PendingSecondFactor | null {
  const mfa = browser.mfa;
  return mfa && typeof mfa.userId === 'string' && now.getTime() - mfa.at <= SECOND_FACTOR_WINDOW_MS ? mfa : null;
}

/** Where the pending second factor continues, if that is still possible. */
function targetOf(browser: BrowserSession, mfa: PendingSecondFactor): SignInTarget | null {
  if (mfa.interactionId) {
    const pending = pendingInteraction(browser, mfa.interactionId);
    return pending ? { pending, interactionId: mfa.interactionId } : null;
  }
  return mfa.returnTo ? { returnTo: mfa.returnTo } : null;
}

/** The second step passed: a new session with the methods of both steps. */
async function finish(provider: Provider, ctx: RequestContext, browser: BrowserSession, mfa: PendingSecondFactor, target: SignInTarget, added: string[]) {
  const user = await provider.store.users.findById(mfa.userId);
  if (!user) return null;
  const amr = combineAmr(mfa.amr, added);
  const clientId = 'pending' in target ? target.pending.params.client_id : null;
  return establishSession(provider, ctx, browser, user, { amr, acr: acrOf(amr) }, target, { clientId });
}

/**
 * POST /interaction/mfa: a TOTP code or a recovery code for the pending sign-in (or step-up). One field,
 * one generic error: which kind of code was wrong is never said. Throttled per user (second-factor.ts).
 */
export async function secondFactorAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser } = input;
  const mfa = livePendingSecondFactor(browser, provider.now());
  const target = mfa ? targetOf(browser, mfa) : null;
  if (!mfa || !target) return expiredPage();
  const back = (error: string) => redirect(`${secondFactorPath(target)}&error=${error}`);
  // a step-up to a phishing-resistant level takes a passkey; codes cannot reach it
  if (mfa.need === 'phr') return back('passkey_required');
  const clientId = 'pending' in target ? target.pending.params.client_id : null;
  const result = await verifySecondFactor(provider, mfa.userId, { code: form.get('code') ?? '' }, ctx, { clientId });
  if (!result.ok)
    return result.retryAfterSeconds ? withRetryAfter(throttledPage(result.retryAfterSeconds, 'attempts'), result.retryAfterSeconds) : back('invalid_code');
  const done = await finish(provider, ctx, browser, mfa, target, result.amr);
  if (!done) return expiredPage();
  return redirect(done.next, { 'Set-Cookie': done.cookie });
}

const withRetryAfter = (response: Response, seconds: number) => {
  response.headers.set('Retry-After', String(seconds));
  return response;
};

const optionsCall = z.object({ purpose: z.enum(['passwordless', 'second_factor', 'register']) });

/**
 * POST /interaction/webauthn/options (JSON): a fresh challenge and the options for the browser's
 * navigator.credentials call. `passwordless`: anyone (rate limited per IP); `second_factor`: the pending
 * sign-in's user; `register`: the signed-in user (the security page).
 */
export async function webauthnOptionsAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readJsonCall(request, ctx, provider.settings);
  if ('rejected' in input) return input.rejected;
  const { body, browser } = input;
  const parsed = optionsCall.safeParse(body);
  if (!parsed.success) return errorResponse(new InvalidRequest('purpose must be passwordless, second_factor or register'));
  try {
    enforceRateLimits(provider, ctx, 'login', [{ scope: 'ip', key: ctx.ip, rule: provider.settings.rateLimits.loginPerIp }]);
  } catch (error) {
    if (error instanceof RateLimited) return errorResponse(error);
    throw error;
  }
  const { purpose } = parsed.data;
  if (purpose === 'passwordless') return json(await authenticationOptions(provider, 'passwordless', null, browser.csrf));
  if (purpose === 'second_factor') {
    const mfa = livePendingSecondFactor(browser, provider.now());
    if (!mfa) return errorResponse(new InvalidRequest('No sign-in is waiting for a second factor'));
    return json(await authenticationOptions(provider, 'second_factor', mfa.userId, browser.csrf));
  }
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  if (!session || !user) return errorResponse(Object.assign(new InvalidRequest('Sign in first'), { status: 401 }));
  if (!(await mayChangeFactors(provider, session)))
    return errorResponse(Object.assign(new InvalidRequest('Verify with your second factor first'), { status: 403 }));
  return json(await registrationOptions(provider, user, browser.csrf));
}

/**
 * Whether this session may add or remove factors: always while the user has none (enrolment), otherwise
 * only a session that passed a second factor itself. A stolen password alone thus cannot swap factors.
 */
export async function mayChangeFactors(provider: Provider, session: { userId: string; acr: string }): Promise<boolean> {
  if (acrLevel(session.acr) >= acrLevel(ACR.mfa)) return true;
  const factors = await provider.store.authenticators.secondFactors(session.userId);
  return !factors.totp && factors.passkeys === 0;
}

const authenticateCall = z.object({
  purpose: z.enum(['passwordless', 'second_factor']),
  response: z.unknown(),
  interaction: z.string().max(64).optional(),
  return_to: z.string().max(2048).optional(),
});

/**
 * POST /interaction/webauthn/authenticate (JSON): a passkey assertion, passwordless (it names its user;
 * user verification required) or as the pending sign-in's second factor. Answers `{ redirect }`; failures
 * are one generic 400 and, for a known user, count against the second-factor throttle.
 */
export async function webauthnAuthenticateAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readJsonCall(request, ctx, provider.settings);
  if ('rejected' in input) return input.rejected;
  const { body, browser } = input;
  const parsed = authenticateCall.safeParse(body);
  const response = parsed.success ? parseCredentialResponse(parsed.data.response) : null;
  if (!parsed.success || !response) return errorResponse(new InvalidRequest('The passkey response is malformed'));
  const { purpose } = parsed.data;
  const refused = () => errorResponse(new InvalidRequest('The passkey could not be verified. Try again or use another way to sign in'));

  let target: SignInTarget | null;
  let mfa: PendingSecondFactor | null = null;
  if (purpose === 'second_factor') {
    mfa = livePendingSecondFactor(browser, provider.now());
    target = mfa ? targetOf(browser, mfa) : null;
  } else {
    try {
      enforceRateLimits(provider, ctx, 'login', [{ scope: 'ip', key: ctx.ip, rule: provider.settings.rateLimits.loginPerIp }]);
    } catch (error) {
      if (error instanceof RateLimited) return errorResponse(error);
      throw error;
    }
    const interactionId = parsed.data.interaction;
    if (interactionId !== undefined && !isInteractionId(interactionId)) return errorResponse(new InvalidRequest('The interaction parameter is malformed'));
    const pending = pendingInteraction(browser, interactionId);
    const returnTo = parsed.data.return_to !== undefined ? safeLocalPath(parsed.data.return_to, provider.settings.issuer) : null;
    if (parsed.data.return_to !== undefined && !returnTo) return errorResponse(new InvalidRequest('The return_to parameter must be a path on this site'));
    target = pending ? { pending, interactionId: interactionId! } : returnTo ? { returnTo } : null;
  }
  if (!target) return errorResponse(new InvalidRequest('This sign-in request has expired or was already completed'));
  const clientId = 'pending' in target ? target.pending.params.client_id : null;
  const base = { clientId, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };

  const outcome = await verifyAssertion(provider, purpose, response, browser.csrf, mfa?.userId ?? null);
  if (!outcome.ok) {
    if (outcome.userId) await recordSecondFactorFailure(provider, outcome.userId);
    provider.audit.record({
      ...base,
      action: purpose === 'second_factor' ? 'auth.mfa_failed' : 'auth.login_failed',
      userId: outcome.userId,
      details: { factor: 'passkey', reason: 'passkey_rejected' },
    });
    return refused();
  }
  provider.audit.record({
    ...base,
    action: 'auth.mfa_succeeded',
    userId: outcome.userId,
    details: { factor: 'passkey', passkey_id: outcome.credential.id, purpose },
  });
  const added = passkeyAmr(outcome.credential, outcome.userVerified);
  let done: { next: string; cookie: string } | null;
  if (mfa) {
    done = await finish(provider, ctx, browser, mfa, target, added);
  } else {
    const user = await provider.store.users.findById(outcome.userId);
    const amr = combineAmr(added);
    done = user ? await establishSession(provider, ctx, browser, user, { amr, acr: acrOf(amr) }, target, { clientId }) : null;
  }
  if (!done) return refused();
  const answer = json({ redirect: done.next });
  answer.headers.set('Set-Cookie', done.cookie);
  return answer;
}

/**
 * GET /interaction/step-up?return_to=...: the signed-in user proves a second factor again (the security
 * page asks for it before factors change when the session has none). `acr=phr` asks for a passkey.
 */
export async function startStepUp(request: Request, _ctx: RequestContext, provider: Provider): Promise<Response> {
  const url = new URL(request.url);
  const returnTo = safeLocalPath(url.searchParams.get('return_to') ?? INTERACTION_PATHS.security, provider.settings.issuer);
  if (!returnTo) return expiredPage();
  const browser = await readBrowserSession(request, provider.settings);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  if (!session) return redirect(`/interaction/start?return_to=${encodeURIComponent(returnTo)}`);
  const user = await provider.store.users.findById(session.userId);
  if (!user) return expiredPage();
  const policy = await secondFactorPolicy(provider, user, null);
  if (!policy.enrolled) return redirect(returnTo);
  const need = url.searchParams.get('acr') === 'phr' && policy.factors.passkeys > 0 ? 'phr' : 'mfa';
  browser.mfa = { userId: user.id, amr: session.amr, at: provider.now().getTime(), need, returnTo, stepUp: true };
  return redirect(secondFactorPath({ returnTo }), { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

/** What the second-factor page shows; null when nothing is pending (expired). */
export async function describeSecondFactor(
  request: Request,
  provider: Provider,
): Promise<{
  csrf: string;
  email: string;
  need: 'mfa' | 'phr';
  totp: boolean;
  passkeys: number;
  recoveryCodes: number;
  stepUp: boolean;
} | null> {
  const browser = await readBrowserSession(request, provider.settings);
  const mfa = livePendingSecondFactor(browser, provider.now());
  if (!mfa || !targetOf(browser, mfa)) return null;
  const user = await provider.store.users.findById(mfa.userId);
  if (!user) return null;
  const factors = await provider.store.authenticators.secondFactors(user.id);
  return {
    csrf: browser.csrf,
    email: user.email,
    need: mfa.need,
    totp: factors.totp,
    passkeys: factors.passkeys,
    recoveryCodes: factors.recoveryCodesLeft,
    stepUp: mfa.stepUp === true,
  };
}
