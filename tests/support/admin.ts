import { BrowserAgent, type Stack } from './oidc';

/**
 * A browser agent with a provider session for `email`: GET /interaction/start sets the sealed session cookie
 * (and its CSRF token), then the login form is posted like a browser would.
 */
export async function signedInAgent(stack: Stack, email: string, password: string): Promise<BrowserAgent> {
  const agent = new BrowserAgent(stack.provider.url);
  const start = await agent.get('/interaction/start?return_to=/');
  if (start.status >= 400) throw new Error(`GET /interaction/start answered ${start.status}`);
  const login = await agent.postForm('/interaction/login', { email, password, return_to: '/', csrf: await agent.csrf() });
  if (login.status !== 303 || login.headers.get('location') !== '/') {
    throw new Error(`login as ${email} failed: ${login.status} ${login.headers.get('location')}`);
  }
  return agent;
}
