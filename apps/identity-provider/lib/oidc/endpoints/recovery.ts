import { accountKeyOf, completePasswordReset, isRecoveryToken, requestPasswordReset, verifyEmailWithToken } from '../../recovery/account-recovery';
import { MAX_PASSWORD_CHARACTERS } from '../../security/password-policy';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { redirect } from '../respond';
import { readBrowserSession, sessionCookie, type BrowserSession } from '../session';
import { enforceRateLimits, RateLimited } from '../steps/rate-limit';
import { readForm, tooManyRequests } from './interaction';

/** The pages of the recovery flows (app/(auth)/...). */
export const RECOVERY_PAGES = { forgot: '/forgot-password', reset: '/reset-password', verify: '/verify-email' } as const;

/** An address as the login form takes it: bounded, one @ with text on both sides, no spaces. */
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** Redirects that leave a URL carrying a token: no Referer for whatever the next page loads. */
const NO_REFERRER = { 'Referrer-Policy': 'no-referrer' };

function limited(
  provider: Provider,
  ctx: RequestContext,
  endpoint: 'password_reset' | 'email_verification',
  checks: Parameters<typeof enforceRateLimits>[3],
): Response | null {
  try {
    enforceRateLimits(provider, ctx, endpoint, checks);
    return null;
  } catch (error) {
    if (error instanceof RateLimited) return tooManyRequests(error);
    throw error;
  }
}

/**
 * "Forgot password?" form: the same 303 to the same page whether or not the address has an account (the
 * services do the same work either way). Limited per client IP and per attempted address (keyed digest).
 */
export async function forgotPasswordAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  if (request.method === 'GET') {
    // the page's form needs the CSRF token of a sealed cookie the browser holds: this sets one
    const browser = await readBrowserSession(request, provider.settings);
    return withCookie(browser, provider, RECOVERY_PAGES.forgot);
  }
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const email = (input.form.get('email') ?? '').trim();
  if (!EMAIL_SHAPE.test(email)) return redirect(`${RECOVERY_PAGES.forgot}?error=email`);
  const { passwordResetPerIp, passwordResetPerAccount } = provider.settings.rateLimits;
  const refused = limited(provider, ctx, 'password_reset', [
    { scope: 'ip', key: ctx.ip, rule: passwordResetPerIp },
    { scope: 'account', key: accountKeyOf(provider, email), rule: passwordResetPerAccount },
  ]);
  if (refused) return refused;
  await requestPasswordReset(provider, email, { ctx });
  reportOutcome(ctx, { password: 'reset_requested' });
  return redirect(`${RECOVERY_PAGES.forgot}?sent=1`);
}

/** The link in a mail: the token moves into the sealed session cookie, then the page (without it in its URL). */
async function linkLanding(request: Request, provider: Provider, slot: 'reset' | 'verify', page: string): Promise<Response> {
  const token = new URL(request.url).searchParams.get('token');
  if (!isRecoveryToken(token)) return redirect(`${page}?error=invalid_link`, NO_REFERRER);
  const browser = await readBrowserSession(request, provider.settings);
  browser.recovery = { ...browser.recovery, [slot]: token };
  return redirect(page, { ...NO_REFERRER, 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

export const resetLinkEndpoint = (request: Request, _ctx: RequestContext, provider: Provider) => linkLanding(request, provider, 'reset', RECOVERY_PAGES.reset);
export const verifyLinkEndpoint = (request: Request, _ctx: RequestContext, provider: Provider) =>
  linkLanding(request, provider, 'verify', RECOVERY_PAGES.verify);

async function withCookie(browser: BrowserSession, provider: Provider, location: string): Promise<Response> {
  return redirect(location, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

/**
 * New password through a reset link (token from the sealed cookie): on success every session of the user
 * ends, this browser's included, and every refresh token is revoked; the user signs in afresh.
 */
export async function resetPasswordAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { form, browser } = input;
  const token = browser.recovery?.reset;
  if (!token) return redirect(`${RECOVERY_PAGES.reset}?error=invalid_link`);
  const refused = limited(provider, ctx, 'password_reset', [{ scope: 'ip', key: ctx.ip, rule: provider.settings.rateLimits.passwordResetPerIp }]);
  if (refused) return refused;
  const password = form.get('new_password') ?? '';
  if (password.length > MAX_PASSWORD_CHARACTERS * 2) return redirect(`${RECOVERY_PAGES.reset}?error=length`);
  if (password !== (form.get('confirm_password') ?? '')) return redirect(`${RECOVERY_PAGES.reset}?error=mismatch`);
  const code = (form.get('second_factor') ?? '').slice(0, 64);
  const result = await completePasswordReset(provider, { token, password, secondFactor: code ? { code } : {} }, { ctx });
  if (result.status !== 'policy') reportOutcome(ctx, { password: result.status === 'reset' ? 'reset_completed' : 'reset_failed' });
  switch (result.status) {
    case 'reset':
      // this browser's session (if any) ended with all the others
      delete browser.recovery!.reset;
      delete browser.sid;
      return withCookie(browser, provider, `${RECOVERY_PAGES.reset}?done=1`);
    case 'invalid_link':
      delete browser.recovery!.reset;
      return withCookie(browser, provider, `${RECOVERY_PAGES.reset}?error=invalid_link`);
    case 'second_factor_required':
      return redirect(`${RECOVERY_PAGES.reset}?error=second_factor`);
    case 'policy':
      return redirect(`${RECOVERY_PAGES.reset}?error=${result.policy.reason === 'too_guessable' ? 'weak' : 'length'}`);
  }
}

/** The confirmation button of a verification link (a POST: mail scanners that prefetch links verify nothing). */
export async function verifyEmailAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const input = await readForm(request, ctx, provider);
  if ('rejected' in input) return input.rejected;
  const { browser } = input;
  const token = browser.recovery?.verify;
  if (!token) return redirect(`${RECOVERY_PAGES.verify}?error=invalid_link`);
  const refused = limited(provider, ctx, 'email_verification', [{ scope: 'ip', key: ctx.ip, rule: provider.settings.rateLimits.passwordResetPerIp }]);
  if (refused) return refused;
  const result = await verifyEmailWithToken(provider, token, { ctx });
  delete browser.recovery!.verify;
  return withCookie(browser, provider, result.status === 'verified' ? `${RECOVERY_PAGES.verify}?done=1` : `${RECOVERY_PAGES.verify}?error=invalid_link`);
}
