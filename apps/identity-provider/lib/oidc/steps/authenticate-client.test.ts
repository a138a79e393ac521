import type { OAuthClient } from '../domain';
import { SecretBox } from '@idp/database-identity';
import { describe, expect, it } from 'vitest';
import { InvalidClient } from '../errors';
import type { Provider } from '../ports';
import { authenticateClient, presentedClientId } from './authenticate-client';
import type { FormParams } from './parse-form';

const box = new SecretBox('a test key-encryption secret that is long enough');

/** A registry holding one confidential client; `replace` swaps in a new record, as a reload after a change does. */
function setup(secret: string) {
  let client = { clientId: 'machine', tokenEndpointAuthMethod: 'client_secret_post', clientSecretHash: box.digest(secret) } as OAuthClient;
  const provider = { clients: { get: async (id: string) => (id === client.clientId ? client : null) }, store: { box } } as unknown as Provider;
  return { provider, replace: (next: string) => void (client = { ...client, clientSecretHash: box.digest(next) }) };
}

const headers = { headers: { get: () => null } } as unknown as Request;
const post = (secret: string): FormParams =>
  new Map([
    ['client_id', 'machine'],
    ['client_secret', secret],
  ]);

describe('client secret authentication', () => {
  it('accepts the registered secret every time and refuses others, before and after a success', async () => {
    const { provider } = setup('s3cret-one');
    await expect(authenticateClient(headers, post('wrong'), provider)).rejects.toBeInstanceOf(InvalidClient);
    for (let i = 0; i < 3; i++)
      await expect(authenticateClient(headers, post('s3cret-one'), provider)).resolves.toMatchObject({ method: 'client_secret_post' });
    await expect(authenticateClient(headers, post('s3cret-one '), provider)).rejects.toBeInstanceOf(InvalidClient);
    await expect(authenticateClient(headers, post('s3cret-on'), provider)).rejects.toBeInstanceOf(InvalidClient);
    await expect(authenticateClient(headers, post('s3cret-one'), provider)).resolves.toBeTruthy();
  });

  it('a changed client record (new secret) no longer accepts the old secret it had verified', async () => {
    const { provider, replace } = setup('old-secret');
    await expect(authenticateClient(headers, post('old-secret'), provider)).resolves.toBeTruthy();
    replace('new-secret');
    await expect(authenticateClient(headers, post('old-secret'), provider)).rejects.toBeInstanceOf(InvalidClient);
    await expect(authenticateClient(headers, post('new-secret'), provider)).resolves.toBeTruthy();
  });
});

describe('presentedClientId (who a failure is audited against)', () => {
  const request = (authorization?: string) =>
    new Request('https://idp.example/oidc/token', { method: 'POST', headers: authorization ? { authorization } : {} });
  const basic = (user: string) => `Basic ${Buffer.from(`${encodeURIComponent(user)}:secret`).toString('base64')}`;
  const body = (clientId: string): FormParams => new Map([['client_id', clientId]]);

  it.each<[string, Request, FormParams | undefined, string | null]>([
    ['the Basic user name over a differing body client_id', request(basic('machine')), body('victim'), 'machine'],
    ['the body client_id without Authorization', request(), body('spa'), 'spa'],
    ['a Basic user name that is no form value, as sent', request(`Basic ${Buffer.from('a%zz:secret').toString('base64')}`), undefined, 'a%zz'],
    ['nothing when neither names a client', request('Bearer abc'), new Map([['client_id', '']]), null],
  ])('%s', (_, req, params, expected) => {
    expect(presentedClientId(req, params)).toBe(expected);
  });
});
