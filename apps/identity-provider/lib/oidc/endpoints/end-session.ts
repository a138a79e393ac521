import { InvalidRequest, InvalidToken } from '../errors';
import { reportOutcome } from '../outcome';
import type { Provider, RequestContext } from '../ports';
import { errorPage, redirect } from '../respond';
import { clearedSessionCookie, csrfMatches, isCrossSiteFormPost, readBrowserSession, sessionCookie } from '../session';
import { paramsFrom } from '../steps/parse-form';
import { verifyIdTokenHint, type IdTokenHintClaims } from '../tokens';
import { withParams } from './authorize';

export const LOGOUT_PAGE = '/logout';

/**
 * RP-Initiated Logout 1.0. The session ends at once only when id_token_hint is an ID token this provider
 * issued (expired ones too) whose `sid` is the browser's session: then the RP has proven that session.
 * Anything less (no hint, another session's hint, a hint without sid) and the user confirms on the logout
 * page, so another site cannot sign a user out with a link. post_logout_redirect_uri must be registered for
 * the client the hint (or client_id) names; state is echoed.
 */
export async function endSessionEndpoint(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  let params: Map<string, string>;
  try {
    params = request.method === 'POST' ? paramsFrom(new URLSearchParams(await request.text())) : paramsFrom(new URL(request.url).searchParams);
  } catch (error) {
    return errorPage(error as InvalidRequest);
  }
  const hint = params.get('id_token_hint');
  const postLogout = params.get('post_logout_redirect_uri');
  const state = params.get('state');
  let hintClaims: IdTokenHintClaims | null = null;
  if (hint) {
    try {
      hintClaims = await verifyIdTokenHint(provider, hint);
    } catch (error) {
      if (!(error instanceof InvalidToken)) throw error;
    }
    // the audience must be one of our clients: a token we signed for anyone else is no ID token of ours
    if (!hintClaims || !(await provider.clients.get(hintClaims.aud))) {
      return errorPage(new InvalidRequest('id_token_hint is not a valid ID token from this provider'));
    }
  }
  const hintAud = hintClaims?.aud;
  const clientId = hintAud ?? params.get('client_id');
  if (hintAud && params.get('client_id') && params.get('client_id') !== hintAud)
    return errorPage(new InvalidRequest('client_id does not match the id_token_hint'));
  if (postLogout) {
    const client = clientId ? await provider.clients.get(clientId) : null;
    if (!client) return errorPage(new InvalidRequest('post_logout_redirect_uri needs id_token_hint or client_id'));
    if (!client.postLogoutRedirectUris.includes(postLogout)) return errorPage(new InvalidRequest('post_logout_redirect_uri is not registered for this client'));
  }

  const browser = await readBrowserSession(request, provider.settings);
  const target = postLogout ? withParams(postLogout, { state }) : `${LOGOUT_PAGE}?done=1`;
  // no session in this browser: nothing to end, nothing to confirm
  const provenSession = !browser.sid || (hintClaims?.sid !== undefined && hintClaims.sid === browser.sid);
  if (hintClaims && provenSession) {
    await endSession(browser.sid, provider, ctx, clientId ?? null);
    return redirect(target, { 'Set-Cookie': clearedSessionCookie(provider.settings) });
  }
  browser.logout = { postLogoutRedirectUri: postLogout ?? undefined, state: state ?? undefined };
  return redirect(LOGOUT_PAGE, { 'Set-Cookie': await sessionCookie(browser, provider.settings) });
}

/** The logout page's confirmation form. */
export async function logoutAction(request: Request, ctx: RequestContext, provider: Provider): Promise<Response> {
  const form = new URLSearchParams(await request.text());
  const browser = await readBrowserSession(request, provider.settings);
  if (isCrossSiteFormPost(request, provider.settings.issuer) || !csrfMatches(browser, form.get('csrf'))) {
    reportOutcome(ctx, { csrfRejected: true });
    return errorPage(Object.assign(new InvalidRequest('The form expired or was sent from another site'), { status: 403 }));
  }
  await endSession(browser.sid, provider, ctx, null);
  const target = browser.logout?.postLogoutRedirectUri
    ? withParams(browser.logout.postLogoutRedirectUri, { state: browser.logout.state })
    : `${LOGOUT_PAGE}?done=1`;
  return redirect(target, { 'Set-Cookie': clearedSessionCookie(provider.settings) });
}

async function endSession(sid: string | undefined, provider: Provider, ctx: RequestContext, clientId: string | null): Promise<void> {
  if (!sid) return;
  const session = await provider.store.sessions.findActive(sid);
  await provider.store.sessions.revoke(sid);
  if (!session) return;
  provider.audit.record({
    action: 'auth.logout',
    userId: session.userId,
    clientId,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    details: {},
  });
  reportOutcome(ctx, { result: 'success' });
}
