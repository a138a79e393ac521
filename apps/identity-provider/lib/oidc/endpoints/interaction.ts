import { decoyPasswordHash, verifyPassword } from '../crypto';
import { hasControlChars } from '../../security/input';
import { AccessDenied, InvalidRequest } from '../errors';
import { changePassword, MAX_PASSWORD_LENGTH, needsCurrentPassword } from '../password-change';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorPage, redirect } from '../respond';
import {
  csrfMatches,
  deviceCookie,
  isCrossSiteFormPost,
  isInteractionId,
  newDeviceId,
  pendingInteraction,
  readBrowserSession,
  readDeviceId,
  sessionCookie,
  type BrowserSession,
} from '../session';
import { ACR } from '../acr';
import { secondFactorPolicy } from '../second-factor';
import { enforceRateLimits, RateLimited } from '../steps/rate-limit';
import { establishSession, secondFactorPath, type SignInTarget } from '../steps/sign-in';
import { INTERACTION_PATHS, redirectWithError } from './authorize';

// re-exported: the pages and tests import them from here
export { FORCED_CHANGE_WINDOW_SECONDS, needsCurrentPassword } from '../password-change';
/** A source's failed sign-ins are forgotten a day after its last one. */
const FAILURE_MEMORY_SECONDS = 24 * 3600;
/** How long a device stays recognised for an account after its last successful sign-in. */
const DEVICE_RECOGNITION_SECONDS = 180 * 24 * 3600;

interface FormContext {
  form: URLSearchParams;
  browser: BrowserSession;
  interactionId: string;
}

/**
 * Every interaction form: a same-origin POST carrying the CSRF token from the sealed session cookie;
 * anything else gets the 403 page.
 */
export async function readForm(request: Request, ctx: RequestContext, provider: Provider): Promise<FormContext | { rejected: Response }> {
  if (isCrossSiteFormPost(request, provider.settings.issuer)) return { rejected: csrfPage(ctx) };
  const form = new URLSearchParams(await request.text());
  // a NUL or other control character in any field (email, return_to...) is refused here, not by SQL as a 500
  for (const [name, value] of form)
    if (hasControlChars(name) || hasControlChars(value)) return { rejected: errorPage(new InvalidRequest('The form contains control characters')) };
  const browser = await readBrowserSession(request, provider.settings);
  if (!csrfMatches(browser, form.get('csrf'))) return { rejected: csrfPage(ctx) };
  // ids go into Location headers: anything but the shape we issue is a 400 before any state changes
  const interactionId = form.get('interaction') ?? '';
  if (interactionId && !isInteractionId(interactionId)) return { rejected: errorPage(new InvalidRequest('The interaction parameter is malformed')) };
  return { form, browser, interactionId };
}

function csrfPage(ctx: RequestContext): Response {
  reportOutcome(ctx, { csrfRejected: true });
  return errorPage(
    Object.assign(new InvalidRequest('The form expired or was sent from another site. Go back, reload the page and try again'), { status: 403 }),
  );
}

const badReturnTo = () => errorPage(new InvalidRequest('The return_to parameter must be a path on this site'));

export const expiredPage = () =>
  errorPage(new InvalidRequest('This sign-in request has expired or was already completed. Return to the application and start again'));

/**
 * Login form: one generic answer for an unknown email or a wrong password (no enumeration; unknown emails
 * cost a password hash too, and are throttled the same way). No account-wide lock: failures are counted
 * per (account, IP) and per (account, recognised device), and a source past its free failures waits
 * 2^k seconds before its next attempt is even checked; an account-wide backstop throttles only browsers
 * the account has never signed in from (README "Login protection"). The session id changes at every login.
 */
export async function loginAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const pending = pendingInteraction(browser, interactionId);
  // without a pending OAuth request, a direct sign-in (admin pages) returns to a local path
  const rawReturnTo = form.get('return_to');
  const returnTo = safeLocalPath(rawReturnTo, provider.settings.issuer);
  if (!pending && rawReturnTo && !returnTo) return badReturnTo();
  if (!pending && !returnTo) return expiredPage();
  const clientId = pending?.params.client_id ?? null;
  const base = { clientId, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  const email = (form.get('email') ?? '').trim().slice(0, 320);
  const password = (form.get('password') ?? '').slice(0, MAX_PASSWORD_LENGTH);
  const back = pending
    ? `${INTERACTION_PATHS.login}?interaction=${interactionId}&error=invalid_credentials`
    : `${INTERACTION_PATHS.login}?return_to=${encodeURIComponent(returnTo!)}&error=invalid_credentials`;

  const limits = provider.settings.rateLimits;
  try {
    // per IP, every attempt counts; nothing here is per account (an account's limit must not let strangers lock it)
    enforceRateLimits(provider, ctx, 'login', [{ scope: 'ip', key: ctx.ip, rule: limits.loginPerIp }], { clientId });
  } catch (error) {
    if (error instanceof RateLimited) return tooManyRequests(error);
    throw error;
  }

  // a keyed digest of the attempted login name: counts failures per account, even unknown ones, without the email
  const accountKey = email ? provider.store.box.digest(`login:${email.toLowerCase()}`).slice(0, 22) : null;
  const now = provider.now();
  const presentedDevice = readDeviceId(request, provider.settings);
  const throttle = accountKey ? await checkLoginThrottle(provider, accountKey, ctx.ip, presentedDevice, now) : null;
  if (throttle?.refusal) {
    const { scope, retryAfterSeconds, failures } = throttle.refusal;
    // limit: the free failures of a source, or the backstop's limit per window
    const rule =
      scope === 'account'
        ? { limit: limits.loginPerAccount.limit, window_seconds: limits.loginPerAccount.windowSeconds }
        : { limit: provider.settings.login.maxFailures };
    provider.audit.record({
      ...base,
      action: 'security.rate_limited',
      userId: null,
      details: { endpoint: 'login', scope, ...rule, retry_after_seconds: retryAfterSeconds, failures, account_key: accountKey },
    });
    reportOutcome(ctx, { rateLimited: 'login' });
    return throttledPage(retryAfterSeconds);
  }

  const user = email ? await provider.store.users.findByEmailForLogin(email) : null;
  const passwordOk = await verifyPassword(password, user ? user.passwordHash : await decoyPasswordHash());
  if (!user || !passwordOk) {
    const details: Record<string, unknown> = { reason: !user ? 'unknown_user' : 'bad_password', account_key: accountKey };
    if (throttle) {
      // the wait starts when the failure is known (after the hash): a slow hash must not eat into it
      const counted = await provider.store.users.recordLoginFailure(throttle.sourceKey, throttle.backstopKey, throttlePolicy(provider), provider.now());
      Object.assign(details, { source: throttle.deviceRecognised ? 'device' : 'ip', source_failures: counted.source.failures });
      if (counted.account && counted.account.failures === limits.loginPerAccount.limit) {
        // the backstop just tripped: unrecognised devices wait for the window's end; recognised ones never do
        provider.audit.record({
          ...base,
          action: 'auth.account_locked',
          userId: user?.id ?? null,
          details: {
            scope: 'unrecognised_devices',
            failures: counted.account.failures,
            locked_until: counted.account.expiresAt.toISOString(),
            account_key: accountKey,
          },
        });
      }
    }
    provider.audit.record({ ...base, action: 'auth.login_failed', userId: user?.id ?? null, details });
    reportOutcome(ctx, { login: 'failure' });
    return redirect(back);
  }

  // locked by an administrator (admin console, users.locked_until): the same generic answer as a wrong
  // password, after the hash was computed, so the lock reveals nothing about the password
  if (user.lockedUntil && user.lockedUntil.getTime() > now.getTime()) {
    provider.audit.record({
      ...base,
      action: 'auth.login_failed',
      userId: user.id,
      details: { reason: 'account_locked', account_key: accountKey, locked_until: user.lockedUntil.toISOString() },
    });
    // the same generic answer, and the same count, as a wrong password
    reportOutcome(ctx, { login: 'failure' });
    return redirect(back);
  }

  // this browser is recognised for the account from now on (its own id, or a new one)
  const deviceId = presentedDevice ?? newDeviceId();
  await provider.store.users.recordLoginSuccess(
    user.id,
    throttle ? [throttle.ipKey, ...(throttle.deviceKey ? [throttle.deviceKey] : [])] : [],
    accountKey ? { key: deviceKeyOf(provider, accountKey, deviceId), ttlSeconds: DEVICE_RECOGNITION_SECONDS } : null,
    now,
  );
  const target: SignInTarget = pending ? { pending, interactionId } : { returnTo: returnTo! };
  // a user with a second factor passes it before any session exists (README "Second factors and passkeys")
  const mfa = await secondFactorPolicy(provider, user, clientId);
  let response: Response;
  if (mfa.enrolled) {
    browser.mfa = { userId: user.id, amr: ['pwd'], at: now.getTime(), need: 'mfa', ...(pending ? { interactionId } : { returnTo: returnTo! }) };
    response = redirect(secondFactorPath(target), { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
  } else {
    const { next, cookie } = await establishSession(provider, ctx, browser, user, { amr: ['pwd'], acr: ACR.pwd }, target, {
      clientId,
      nudgeEnrolment: mfa.required,
    });
    if (user.mustChangePassword) reportOutcome(ctx, { password: 'forced_change_required' });
    response = redirect(next, { 'Set-Cookie': cookie });
  }
  response.headers.append('Set-Cookie', deviceCookie(deviceId, provider.settings));
  return response;
}

interface LoginThrottleCheck {
  ipKey: string;
  deviceKey: string | null;
  deviceRecognised: boolean;
  /** The counter this attempt's failure goes to: the recognised device's, else the (account, IP) pair's. */
  sourceKey: string;
  /** The account-wide backstop's counter, or null when it is off. */
  backstopKey: string | null;
  refusal: { scope: 'account_ip' | 'account_device' | 'account'; retryAfterSeconds: number; failures: number } | null;
}

const deviceKeyOf = (provider: Provider, accountKey: string, deviceId: string) => provider.store.box.digest(`login-device:${accountKey}:${deviceId}`);

function throttlePolicy(provider: Provider) {
  return {
    freeFailures: provider.settings.login.maxFailures,
    maxDelaySeconds: provider.settings.login.lockSeconds,
    forgetAfterSeconds: FAILURE_MEMORY_SECONDS,
    backstopWindowSeconds: provider.settings.rateLimits.loginPerAccount.windowSeconds,
  };
}

/** Whether this attempt may be checked at all; one query, before any password hash. */
async function checkLoginThrottle(provider: Provider, accountKey: string, ip: string | null, deviceId: string | null, now: Date): Promise<LoginThrottleCheck> {
  const { box } = provider.store;
  const ipKey = box.digest(`login-ip:${accountKey}:${ip ?? 'unknown'}`);
  const deviceKey = deviceId ? deviceKeyOf(provider, accountKey, deviceId) : null;
  const backstop = provider.settings.rateLimits.loginPerAccount;
  const backstopKey = backstop.limit > 0 ? box.digest(`login-account:${accountKey}`) : null;
  const keys = [ipKey, ...(deviceKey ? [deviceKey] : []), ...(backstopKey ? [backstopKey] : [])];
  const { throttles, deviceRecognised } = await provider.store.users.loginThrottleState(keys, deviceKey, now);
  const sourceKey = deviceRecognised ? deviceKey! : ipKey;
  const secondsUntil = (at: Date) => Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000));
  let refusal: LoginThrottleCheck['refusal'] = null;
  const source = throttles.get(sourceKey);
  if (source?.blockedUntil && source.blockedUntil > now) {
    refusal = { scope: deviceRecognised ? 'account_device' : 'account_ip', retryAfterSeconds: secondsUntil(source.blockedUntil), failures: source.failures };
  } else if (!deviceRecognised && backstopKey) {
    const account = throttles.get(backstopKey);
    if (account && account.failures >= backstop.limit)
      refusal = { scope: 'account', retryAfterSeconds: secondsUntil(account.expiresAt), failures: account.failures };
  }
  return { ipKey, deviceKey, deviceRecognised, sourceKey, backstopKey, refusal };
}

/** 429 for a throttled sign-in: says how long to wait; the password was not checked. */
export function throttledPage(retryAfterSeconds: number, what = 'sign-ins'): Response {
  const response = errorPage(Object.assign(new InvalidRequest(`Too many failed ${what}. Wait ${retryAfterSeconds} seconds and try again`), { status: 429 }));
  response.headers.set('Retry-After', String(retryAfterSeconds));
  return response;
}

/** For the password page: whether to show the current-password field (true when nobody is signed in). */
export async function currentPasswordRequired(request: Request, provider: Provider): Promise<boolean> {
  const browser = await readBrowserSession(request, provider.settings);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  return !session || !user || needsCurrentPassword(user, session, provider.now());
}

/**
 * Password change form for the signed-in user: forced (must_change_password) before anything else, or
 * asked for. The change itself (checks, ending other sessions, revoking grants, audit) is changePassword.
 */
export async function changePasswordAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const rawReturnTo = form.get('return_to');
  const returnTo = safeLocalPath(rawReturnTo, provider.settings.issuer);
  if (rawReturnTo && !returnTo) return badReturnTo();
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  if (!session) return expiredPage();
  const pending = pendingInteraction(browser, interactionId);
  const outcome = await changePassword(provider, ctx, {
    session,
    currentPassword: form.get('current_password') ?? '',
    newPassword: form.get('new_password') ?? '',
    confirmPassword: form.get('confirm_password') ?? '',
    clientId: pending?.params.client_id ?? null,
  });
  if (outcome.status === 'no_user') return expiredPage();
  if (outcome.status === 'rate_limited') return tooManyRequests(outcome.error);
  if (outcome.status === 'refused') {
    return redirect(
      `${INTERACTION_PATHS.password}?${interactionId ? `interaction=${interactionId}` : `return_to=${encodeURIComponent(returnTo ?? '/')}`}&error=${outcome.reason}`,
    );
  }
  return redirect(pending ? `${INTERACTION_PATHS.resume}?interaction=${interactionId}` : (returnTo ?? '/'));
}

/** Consent form: allow remembers the scopes for this user and client; deny returns access_denied. */
export async function consentAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const pending = pendingInteraction(browser, interactionId);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  if (!pending || !session) return expiredPage();
  const client = await provider.clients.get(pending.params.client_id);
  if (!client || !client.redirectUris.includes(pending.params.redirect_uri)) return expiredPage();

  if (form.get('decision') !== 'allow') {
    delete browser.interactions[interactionId];
    const response = redirectWithError(
      pending.params.redirect_uri,
      new AccessDenied('The user declined the request'),
      pending.params.state,
      provider.settings.issuer,
    );
    response.headers.set('Set-Cookie', await sessionCookie(browser, provider.settings));
    return response;
  }
  const scopes = (pending.params.scope ?? '').split(' ').filter(Boolean);
  await provider.store.consents.grant(session.userId, client.clientId, scopes);
  pending.consentAt = provider.now().getTime();
  void ctx;
  return redirect(`${INTERACTION_PATHS.resume}?interaction=${interactionId}`, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

// C0 controls, DEL and backslash: browsers drop tabs and newlines and read "\\" as "/", so "/\t/evil" is "//evil"
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_PATH_CHARS = /[\u0000-\u001f\u007f\\]/;

/**
 * A path on this site to redirect to after sign-in, or null: resolved against the issuer, it must keep the
 * issuer's origin, and neither it nor its percent-decoded form may hold control characters or a backslash
 * (or start with "//"). Open redirects are how phishing borrows our domain. Returns the normalised path.
 */
export function safeLocalPath(value: string | null | undefined, issuer: string): string | null {
  if (!value || value.length > 2048 || !value.startsWith('/') || UNSAFE_PATH_CHARS.test(value)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return null;
  }
  if (UNSAFE_PATH_CHARS.test(decoded) || decoded.startsWith('//')) return null;
  let url: URL;
  try {
    url = new URL(value, issuer);
  } catch {
    return null;
  }
  if (url.origin !== new URL(issuer).origin) return null;
  return `${url.pathname}${url.search}${url.hash}`;
}

/** 429 for the browser forms: a page, with the same rate-limit headers as the API endpoints. */
export function tooManyRequests(error: RateLimited): Response {
  const response = errorPage(Object.assign(new InvalidRequest('Too many attempts. Wait a few minutes and try again'), { status: 429 }));
  for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
  return response;
}

/**
 * Starts a direct sign-in (admin pages): makes sure the browser holds a sealed session cookie with a CSRF
 * token, then shows the login form, which returns to `return_to` (a local path) afterwards.
 */
export async function startSignIn(request: Request, _ctx: RequestContext, provider: Provider): Promise<Response> {
  const raw = new URL(request.url).searchParams.get('return_to');
  const returnTo = raw ? safeLocalPath(raw, provider.settings.issuer) : '/';
  if (!returnTo) return badReturnTo();
  const browser = await readBrowserSession(request, provider.settings);
  return redirect(`${INTERACTION_PATHS.login}?return_to=${encodeURIComponent(returnTo)}`, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}
