import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInAgent } from './support/admin';
import { BrowserAgent, startStack, type Stack } from './support/oidc';

/** The account API against the real server: CSRF and same-origin rules, one error shape, password change. */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function user(): Promise<{ email: string; password: string; agent: BrowserAgent }> {
  const email = `api-${randomBytes(4).toString('hex')}@example.org`;
  const password = `meadow-${randomBytes(6).toString('hex')}-compass`;
  await stack.store.users.create({ email, password });
  return { email, password, agent: await signedInAgent(stack, email, password) };
}

const post = async (agent: BrowserAgent, path: string, body: unknown, headers: Record<string, string> = {}) =>
  agent.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-csrf-token': await agent.csrf(), ...headers },
  });

describe('account API', () => {
  it('POSTs need JSON, the CSRF header and a same-origin request; errors share one shape', async () => {
    const { agent } = await user();
    const cases: [string, Promise<Response>, number, string][] = [
      [
        'no csrf header',
        agent.request('/api/account/profile', { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'application/json' } }),
        403,
        'csrf',
      ],
      ['wrong csrf header', post(agent, '/api/account/profile', { name: 'x' }, { 'x-csrf-token': 'nope' }), 403, 'csrf'],
      ['cross-site origin', post(agent, '/api/account/profile', { name: 'x' }, { origin: 'https://evil.example' }), 403, 'forbidden'],
      ['cross-site fetch metadata', post(agent, '/api/account/profile', { name: 'x' }, { 'sec-fetch-site': 'cross-site' }), 403, 'forbidden'],
      ['a form post', agent.postForm('/api/account/profile', { name: 'x', csrf: await agent.csrf() }), 415, 'unsupported_media_type'],
      [
        'not JSON',
        agent.request('/api/account/profile', {
          method: 'POST',
          body: '{',
          headers: { 'content-type': 'application/json', 'x-csrf-token': await agent.csrf() },
        }),
        400,
        'invalid_request',
      ],
      ['unknown field', post(agent, '/api/account/profile', { name: 'x', roles: ['admin'] }), 400, 'invalid_request'],
      ['no session', new BrowserAgent(stack.provider.url).request('/api/account/sessions'), 401, 'unauthenticated'],
    ];
    for (const [name, pending, status, error] of cases) {
      const response = await pending;
      expect(response.status, name).toBe(status);
      expect(response.headers.get('cache-control'), name).toBe('no-store');
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error, name).toBe(error);
      expect(typeof body.message, name).toBe('string');
    }
    const saved = await post(agent, '/api/account/profile', { name: '  Grace Hopper ' });
    expect(saved.status).toBe(200);
    expect(((await saved.json()) as { profile: { name: string } }).profile.name).toBe('Grace Hopper');
  });

  it('password change: the current password is required; then the other sessions end and this one stays', async () => {
    const { email, password, agent } = await user();
    const other = await signedInAgent(stack, email, password);
    const wrong = await post(agent, '/api/account/password', {
      current_password: 'not-it',
      new_password: 'a-new-long-password',
      confirm_password: 'a-new-long-password',
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'password_current', parameter: 'current_password' });
    const ok = await post(agent, '/api/account/password', {
      current_password: password,
      new_password: 'a-new-long-password',
      confirm_password: 'a-new-long-password',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ sessions_ended: 1 });
    expect((await other.request('/api/account/sessions')).status).toBe(401);
    const mine = (await (await agent.request('/api/account/sessions')).json()) as { sessions: { current: boolean }[] };
    expect(mine.sessions).toEqual([expect.objectContaining({ current: true })]);
    await expect
      .poll(async () => ((await (await agent.request('/api/account/activity')).json()) as { entries: { action: string }[] }).entries.map((e) => e.action))
      .toContain('auth.password_changed');
  });

  it("ending sessions: one by id (only the user's own), or all others", async () => {
    const { email, password, agent } = await user();
    await signedInAgent(stack, email, password);
    await signedInAgent(stack, email, password);
    const list = (await (await agent.request('/api/account/sessions')).json()) as { sessions: { id: string; current: boolean }[] };
    expect(list.sessions).toHaveLength(3);
    const current = list.sessions.find((s) => s.current)!;
    const target = list.sessions.find((s) => !s.current)!;
    expect(await (await post(agent, '/api/account/sessions/end', { session_id: current.id })).json()).toMatchObject({ error: 'current_session' });
    // someone else's session id means nothing to this user
    const stranger = await user();
    expect((await post(stranger.agent, '/api/account/sessions/end', { session_id: target.id })).status).toBe(404);
    expect(await (await post(agent, '/api/account/sessions/end', { session_id: target.id })).json()).toEqual({ sessions_ended: 1 });
    expect(await (await post(agent, '/api/account/sessions/end', { all_others: true })).json()).toEqual({ sessions_ended: 1 });
    expect(((await (await agent.request('/api/account/sessions')).json()) as { sessions: unknown[] }).sessions).toHaveLength(1);
  });
});
