import { decoyPasswordHash, verifyPassword } from '@idp/database-identity';
import { hasControlChars } from '../../security/input';
import { AccessDenied, InvalidRequest } from '../errors';
import type { Provider, RequestContext } from '../ports';
import { errorPage, redirect } from '../respond';
import { csrfMatches, isCrossSiteFormPost, newCsrfToken, pendingInteraction, readBrowserSession, sessionCookie, type BrowserSession } from '../session';
import { enforceRateLimits, RateLimited } from '../steps/rate-limit';
import { INTERACTION_PATHS, redirectWithError } from './authorize';

const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 256;

interface FormContext {
  form: URLSearchParams;
  browser: BrowserSession;
  interactionId: string;
}

/**
 * Every interaction form: a same-origin POST carrying the CSRF token from the sealed session cookie;
 * anything else gets the 403 page.
 */
async function readForm(request: Request, provider: Provider): Promise<FormContext | { rejected: Response }> {
  if (isCrossSiteFormPost(request, provider.settings.issuer)) return { rejected: csrfPage() };
  const form = new URLSearchParams(await request.text());
  // a NUL or other control character in any field (email, return_to...) is refused here, not by SQL as a 500
  for (const [name, value] of form) if (hasControlChars(name) || hasControlChars(value)) return { rejected: errorPage(new InvalidRequest('The form contains control characters')) };
  const browser = await readBrowserSession(request, provider.settings);
  if (!csrfMatches(browser, form.get('csrf'))) return { rejected: csrfPage() };
  return { form, browser, interactionId: form.get('interaction') ?? '' };
}

function csrfPage(): Response {
  return errorPage(Object.assign(new InvalidRequest('The form expired or was sent from another site. Go back, reload the page and try again'), { status: 403 }));
}

const expiredPage = () => errorPage(new InvalidRequest('This sign-in request has expired or was already completed. Return to the application and start again'));

/**
 * Login form: one generic answer for an unknown email, a wrong password or a locked account (no
 * enumeration; unknown emails cost a password hash too). The session id changes at every login.
 */
export async function loginAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const pending = pendingInteraction(browser, interactionId);
  // without a pending OAuth request, a direct sign-in (admin pages) returns to a local path
  const returnTo = safeLocalPath(form.get('return_to'));
  if (!pending && !returnTo) return expiredPage();
  const clientId = pending?.params.client_id ?? null;
  const base = { clientId, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
  const email = (form.get('email') ?? '').trim().slice(0, 320);
  const password = (form.get('password') ?? '').slice(0, MAX_PASSWORD_LENGTH);
  const back = pending
    ? `${INTERACTION_PATHS.login}?interaction=${interactionId}&error=invalid_credentials`
    : `${INTERACTION_PATHS.login}?return_to=${encodeURIComponent(returnTo!)}&error=invalid_credentials`;

  // a keyed digest of the attempted login name: counts attempts per account, even unknown ones, without the email
  const accountKey = email ? provider.store.box.digest(`login:${email.toLowerCase()}`).slice(0, 22) : null;
  const limits = provider.settings.rateLimits;
  try {
    enforceRateLimits(provider, ctx, 'login', [
      { scope: 'ip', key: ctx.ip, rule: limits.loginPerIp },
      { scope: 'account', key: accountKey, rule: limits.loginPerAccount },
    ], { clientId });
  } catch (error) {
    if (error instanceof RateLimited) return tooManyRequests(error);
    throw error;
  }

  const user = email ? await provider.store.users.findByEmailForLogin(email) : null;
  const now = provider.now();
  const locked = !!user?.lockedUntil && user.lockedUntil > now;
  const passwordOk = await verifyPassword(password, user && !locked ? user.passwordHash : await decoyPasswordHash());
  if (!user || locked || !passwordOk) {
    if (user && !locked) {
      const { lockedUntil } = await provider.store.users.recordFailedLogin(user.id, provider.settings.login.maxFailures, provider.settings.login.lockSeconds);
      if (lockedUntil && lockedUntil > now) provider.audit.record({ ...base, action: 'auth.account_locked', userId: user.id, details: { locked_until: lockedUntil.toISOString() } });
    }
    provider.audit.record({ ...base, action: 'auth.login_failed', userId: user?.id ?? null, details: { reason: !user ? 'unknown_user' : locked ? 'locked' : 'bad_password', account_key: accountKey } });
    return redirect(back);
  }

  await provider.store.users.recordSuccessfulLogin(user.id);
  if (browser.sid) await provider.store.sessions.revoke(browser.sid);
  const session = await provider.store.sessions.create({ userId: user.id, authTime: now, ttlSeconds: provider.settings.ttl.session, ipAddress: ctx.ip, userAgent: ctx.userAgent });
  browser.sid = session.sid;
  browser.csrf = newCsrfToken();
  if (pending) pending.loginAt = now.getTime();
  provider.audit.record({ ...base, action: 'auth.login_succeeded', userId: user.id, details: { sid_created: true } });
  const cookie = { 'Set-Cookie': await sessionCookie(browser, provider.settings) };
  if (!pending) {
    return redirect(user.mustChangePassword ? `${INTERACTION_PATHS.password}?return_to=${encodeURIComponent(returnTo!)}` : returnTo!, cookie);
  }
  const next = user.mustChangePassword ? INTERACTION_PATHS.password : INTERACTION_PATHS.resume;
  return redirect(`${next}?interaction=${interactionId}`, cookie);
}

/** Forced password change (must_change_password): before anything else, for the signed-in user. */
export async function changePasswordAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  if (!session) return expiredPage();
  const user = await provider.store.users.findByEmailForLogin((await provider.store.users.findById(session.userId))?.email ?? '');
  if (!user) return expiredPage();
  try {
    enforceRateLimits(provider, ctx, 'password_change', [{ scope: 'user', key: user.id, rule: provider.settings.rateLimits.passwordChange }], { userId: user.id });
  } catch (error) {
    if (error instanceof RateLimited) return tooManyRequests(error);
    throw error;
  }
  const password = form.get('new_password') ?? '';
  const confirm = form.get('confirm_password') ?? '';
  const returnTo = safeLocalPath(form.get('return_to'));
  const back = (error: string) =>
    redirect(`${INTERACTION_PATHS.password}?${interactionId ? `interaction=${interactionId}` : `return_to=${encodeURIComponent(returnTo ?? '/')}`}&error=${error}`);
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) return back('length');
  if (password !== confirm) return back('mismatch');
  if (await verifyPassword(password, user.passwordHash)) return back('reused');

  await provider.store.users.setPassword(user.id, password, { mustChange: false });
  provider.audit.record({ action: 'auth.password_changed', userId: user.id, clientId: pendingInteraction(browser, interactionId)?.params.client_id ?? null, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId, details: { forced: user.mustChangePassword } });
  const next = pendingInteraction(browser, interactionId) ? `${INTERACTION_PATHS.resume}?interaction=${interactionId}` : safeLocalPath(form.get('return_to')) ?? '/';
  return redirect(next);
}

/** Consent form: allow remembers the scopes for this user and client; deny returns access_denied. */
export async function consentAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser, interactionId } = input;
  const pending = pendingInteraction(browser, interactionId);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  if (!pending || !session) return expiredPage();
  const client = await provider.clients.get(pending.params.client_id);
  if (!client || !client.redirectUris.includes(pending.params.redirect_uri)) return expiredPage();

  if (form.get('decision') !== 'allow') {
    delete browser.interactions[interactionId];
    const response = redirectWithError(pending.params.redirect_uri, new AccessDenied('The user declined the request'), pending.params.state, provider.settings.issuer);
    response.headers.set('Set-Cookie', await sessionCookie(browser, provider.settings));
    return response;
  }
  const scopes = (pending.params.scope ?? '').split(' ').filter(Boolean);
  await provider.store.consents.grant(session.userId, client.clientId, scopes);
  pending.consentAt = provider.now().getTime();
  void ctx;
  return redirect(`${INTERACTION_PATHS.resume}?interaction=${interactionId}`, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

/** A same-origin path ("/x"), never "//host" or a URL: open redirects are how phishing borrows our domain. */
export function safeLocalPath(value: string | null | undefined): string | null {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return null;
  return value.slice(0, 2048);
}

/** 429 for the browser forms: a page, with the same rate-limit headers as the API endpoints. */
function tooManyRequests(error: RateLimited): Response {
  const response = errorPage(Object.assign(new InvalidRequest('Too many attempts. Wait a few minutes and try again'), { status: 429 }));
  for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
  return response;
}

/**
 * Starts a direct sign-in (admin pages): makes sure the browser holds a sealed session cookie with a CSRF
 * token, then shows the login form, which returns to `return_to` (a local path) afterwards.
 */
export async function startSignIn(request: Request, _ctx: RequestContext, provider: Provider): Promise<Response> {
  const returnTo = safeLocalPath(new URL(request.url).searchParams.get('return_to')) ?? '/';
  const browser = await readBrowserSession(request, provider.settings);
  return redirect(`${INTERACTION_PATHS.login}?return_to=${encodeURIComponent(returnTo)}`, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}
