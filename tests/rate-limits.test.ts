import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/oidc';

/**
 * Per-client token limits on the real server: only an authenticated client's requests count against its
 * quota; a public client is counted per (client, IP), so strangers naming a public SPA cannot exhaust it
 * for its real users (issue #12, item 5).
 */
describe('token rate limits per client', () => {
  let stack: Stack;
  let publicClientId: string;
  let basic: string;

  beforeAll(async () => {
    stack = await startStack({ TRUSTED_PROXY: 'x-forwarded-for', RATE_LIMIT_TOKEN_PER_CLIENT: '5/600' });
    const spa = await stack.store.clients.create({
      name: 'SPA',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1:9/cb'],
    });
    publicClientId = spa.client.clientId;
    const svc = await stack.store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['api.read'] });
    basic = `Basic ${Buffer.from(`${svc.client.clientId}:${svc.clientSecret}`).toString('base64')}`;
  });
  afterAll(() => stack?.stop());

  const token = (ip: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${stack.provider.url}/oidc/token`, {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, ...headers },
    });

  it('bogus refreshes naming a public client from one address do not lock out its users elsewhere', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await token('198.51.100.7', { grant_type: 'refresh_token', refresh_token: 'bogus', client_id: publicClientId })).status);
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    // a real user of the SPA, from another address: not refused (before: 429, the quota was the client's)
    const user = await token('203.0.113.9', { grant_type: 'refresh_token', refresh_token: 'also-unknown', client_id: publicClientId });
    expect(user.status).toBe(400);
    expect((await user.json()).error).toBe('invalid_grant');
  });

  it('an authenticated client is limited as one, whatever address it calls from', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await token(`192.0.2.${i + 1}`, { grant_type: 'client_credentials', scope: 'api.read' }, { authorization: basic })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
