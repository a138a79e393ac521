import { createHmac, timingSafeEqual } from 'node:crypto';
import { DuplicateClientError, DuplicateEmailError, type GrantType, type IdentityStore } from '@idp/database-identity';

/**
 * The demo clients and users `npm run idp -- demo:traffic` plays with (development only). Their secrets
 * and passwords are derived from KEY_ENCRYPTION_SECRET, so the server (which creates them) and the CLI
 * (which signs in with them) agree without either sending a secret: the CLI reads the same configuration
 * (the data directory's generated secrets, or the environment).
 */

/** Every demo request says what it is: audit rows and dashboards show this user agent. */
export const DEMO_TRAFFIC_USER_AGENT = 'idp-demo-traffic/1.0 (labelled demo traffic: npm run idp -- demo:traffic)';
export const DEMO_REDIRECT_URI = 'http://127.0.0.1:9/demo-traffic/callback';

export interface DemoClient {
  clientId: string;
  name: string;
  confidential: boolean;
  grantTypes: readonly GrantType[];
  firstParty: boolean;
}

export const DEMO_CLIENTS = {
  web: {
    clientId: 'demo-traffic-photos',
    name: 'Demo traffic · Photo album (web)',
    confidential: true,
    grantTypes: ['authorization_code', 'refresh_token'],
    firstParty: false,
  },
  mobile: {
    clientId: 'demo-traffic-notes',
    name: 'Demo traffic · Notes (mobile)',
    confidential: false,
    grantTypes: ['authorization_code', 'refresh_token'],
    firstParty: true,
  },
  worker: { clientId: 'demo-traffic-billing', name: 'Demo traffic · Billing worker', confidential: true, grantTypes: ['client_credentials'], firstParty: true },
} as const satisfies Record<string, DemoClient>;

export const DEMO_USERS = [
  { email: 'demo.alice@example.com', name: 'Alice (demo)' },
  { email: 'demo.bob@example.com', name: 'Bob (demo)' },
  { email: 'demo.carol@example.com', name: 'Carol (demo)' },
] as const;

/** A demo secret, password or the setup token: HMAC of a label under the server's key secret. */
export function demoSecret(keyEncryptionSecret: string, label: string): string {
  return createHmac('sha256', keyEncryptionSecret).update(`demo-traffic:${label}`).digest('base64url');
}

export const demoSetupToken = (keyEncryptionSecret: string) => demoSecret(keyEncryptionSecret, 'setup-token');

export function isDemoSetupToken(keyEncryptionSecret: string, presented: string | null): boolean {
  const expected = Buffer.from(demoSetupToken(keyEncryptionSecret));
  const given = Buffer.from(presented ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Creates the demo clients and users that are missing; returns their ids. Idempotent. */
export async function ensureDemoFixtures(store: IdentityStore, keyEncryptionSecret: string): Promise<{ created: string[] }> {
  const created: string[] = [];
  for (const client of Object.values(DEMO_CLIENTS) as DemoClient[]) {
    if (await store.clients.find(client.clientId)) continue;
    try {
      await store.clients.create({
        clientId: client.clientId,
        name: client.name,
        redirectUris: client.grantTypes.includes('authorization_code') ? [DEMO_REDIRECT_URI] : [],
        grantTypes: [...client.grantTypes],
        scopes: client.grantTypes.includes('client_credentials') ? ['billing.read', 'billing.write'] : ['openid', 'profile', 'email', 'offline_access'],
        tokenEndpointAuthMethod: client.confidential ? 'client_secret_basic' : 'none',
        firstParty: client.firstParty,
        clientSecret: client.confidential ? demoSecret(keyEncryptionSecret, `client:${client.clientId}`) : undefined,
      });
      created.push(client.clientId);
    } catch (error) {
      if (!(error instanceof DuplicateClientError)) throw error;
    }
  }
  for (const user of DEMO_USERS) {
    if (await store.users.findByEmailForLogin(user.email)) continue;
    try {
      await store.users.create({ email: user.email, name: user.name, password: demoSecret(keyEncryptionSecret, `user:${user.email}`), emailVerified: true });
      created.push(user.email);
    } catch (error) {
      if (!(error instanceof DuplicateEmailError)) throw error;
    }
  }
  return { created };
}
