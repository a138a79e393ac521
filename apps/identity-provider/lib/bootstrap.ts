import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IdentityStore } from '@idp/database-identity';
import type { Config } from './env';
import { checkPasswordPolicy } from './security/password-policy';
import type { Logger } from './log';

export const DEMO_CLIENT_ID = 'demo-spa';

const MIN_INITIAL_PASSWORD = 12;

/**
 * The first administrator's initial password from ADMIN_PASSWORD_FILE (one line; a trailing newline is
 * dropped). Errors name the file, never its content.
 */
function initialPasswordFromFile(file: string): string {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`ADMIN_PASSWORD_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const password = content.replace(/\r?\n$/, '');
  if (password.length < MIN_INITIAL_PASSWORD || /[\r\n]/.test(password)) {
    throw new Error(`ADMIN_PASSWORD_FILE ${file} must hold one line of at least ${MIN_INITIAL_PASSWORD} characters`);
  }
  return password;
}

/**
 * First start: signing keys, the first administrator (must change the password at first login), and in
 * development a demo public client for the /demo page. Safe to run on every start. The initial password
 * comes from ADMIN_PASSWORD_FILE when set; otherwise, in development only, it is random and printed once.
 * In production nothing secret is ever printed: without the file no administrator is created (a warning
 * says how to create one).
 */
export async function bootstrap(store: IdentityStore, config: Config, log: Logger, print = (text: string) => process.stdout.write(text)): Promise<void> {
  const createdKeys = await store.keys.ensureActiveKeys(['RS256', 'ES256']);
  if (createdKeys.length) log.info('signing keys created', { kids: createdKeys.map((k) => k.kid) });
  // retirements and activations are recorded (and audited) by the maintenance job; signing follows the times anyway

  if ((await store.users.countAdmins()) === 0) {
    const existing = await store.users.findByEmailForLogin(config.adminEmail);
    if (!existing && config.production && !config.adminPasswordFile) {
      log.warn(
        'no administrator exists: set ADMIN_PASSWORD_FILE to a file holding the initial password and restart, or run `npm run idp -- users:create --email <you> --admin`',
        { adminEmail: config.adminEmail },
      );
    } else if (existing) {
      log.warn('ADMIN_EMAIL belongs to an existing non-admin user; not creating an administrator', { userId: existing.id });
    } else {
      const fromFile = !!config.adminPasswordFile;
      const password = config.adminPasswordFile ? initialPasswordFromFile(config.adminPasswordFile) : randomBytes(18).toString('base64url');
      if (fromFile) {
        // a random password needs no check; one an operator chose does (and nothing of it is printed)
        const policy = await checkPasswordPolicy(password, {
          minLength: Math.max(MIN_INITIAL_PASSWORD, config.passwordMinLength),
          email: config.adminEmail,
          name: 'Administrator',
        });
        if (!policy.ok) throw new Error(`ADMIN_PASSWORD_FILE ${config.adminPasswordFile} holds a password the policy refuses: ${policy.message}`);
      }
      const admin = await store.users.create({
        email: config.adminEmail,
        password,
        name: 'Administrator',
        roles: ['admin'],
        mustChangePassword: true,
        // ADMIN_EMAIL is configured, never proven: unverified until a link or `users:verify-email` says so
        emailVerified: false,
      });
      log.info('administrator created', { userId: admin.id, initialPassword: fromFile ? 'ADMIN_PASSWORD_FILE' : 'printed once' });
      if (!fromFile)
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
