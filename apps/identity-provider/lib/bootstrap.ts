import { randomBytes } from 'node:crypto';
import type { IdentityStore } from '@idp/database-identity';
import type { Config } from './env';
import type { Logger } from './log';

export const DEMO_CLIENT_ID = 'demo-spa';

/**
 * First start: signing keys, the first administrator (random password, printed once, must be changed at
 * first login), and in development a demo public client for the /demo page. Safe to run on every start.
 */
export async function bootstrap(store: IdentityStore, config: Config, log: Logger, print = (text: string) => process.stdout.write(text)): Promise<void> {
  const createdKeys = await store.keys.ensureActiveKeys(['RS256', 'ES256']);
  if (createdKeys.length) log.info('signing keys created', { kids: createdKeys.map((k) => k.kid) });
  await store.keys.retireExpired();

  if ((await store.users.countAdmins()) === 0) {
    const password = randomBytes(18).toString('base64url');
    const existing = await store.users.findByEmailForLogin(config.adminEmail);
    if (existing) {
      log.warn('ADMIN_EMAIL belongs to an existing non-admin user; not creating an administrator', { userId: existing.id });
    } else {
      const admin = await store.users.create({
        email: config.adminEmail,
        password,
        name: 'Administrator',
        roles: ['admin'],
        mustChangePassword: true,
        emailVerified: true,
      });
      log.info('administrator created', { userId: admin.id });
      print(
        [
          '',
          '  ┌─ First administrator ─────────────────────────────────────────',
          `  │ email:    ${config.adminEmail}`,
          `  │ password: ${password}`,
          '  │ Shown only this once. You will be asked to change it at first login.',
          '  └───────────────────────────────────────────────────────────────',
          '',
        ].join('\n') + '\n',
      );
    }
  }

  if (config.demoClient && !(await store.clients.find(DEMO_CLIENT_ID))) {
    await store.clients.create({
      clientId: DEMO_CLIENT_ID,
      name: 'Demo relying party',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [`${config.issuer}/demo/callback`],
      postLogoutRedirectUris: [`${config.issuer}/demo`],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      firstParty: true,
    });
    log.info('demo client registered', { clientId: DEMO_CLIENT_ID });
  }
}
