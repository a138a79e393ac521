import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ACR, acrForToken, acrOf, combineAmr, parseClaimsParameter } from './acr';
import { authorizationEndpoint } from './endpoints/authorize';
import { discoveryDocument } from './endpoints/discovery';
import { DISCOVERED_PATHS } from './router';
import { loginAction } from './endpoints/interaction';
import { tokenEndpoint } from './endpoints/token';
import { OAuthError } from './errors';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, TOTP_PERIOD_SECONDS, totpCode, verifySecondFactor } from './second-factor';
import { readBrowserSession, sessionCookie } from './session';
import { TEST_ISSUER, testProvider } from './test-provider';

/**
 * In process, against the real endpoint functions on the embedded database: the `claims` parameter,
 * acr_values and the policy's step-up decisions, amr/acr in the ID token, and the TOTP replay window.
 */
let t: Awaited<ReturnType<typeof testProvider>>;
const RP = { clientId: 'mfa-rp', redirectUri: 'https://rp.example/cb' };
let secret: string;

beforeAll(async () => {
  t = await testProvider();
  secret = (
    await t.client({
      clientId: RP.clientId,
      name: 'MFA RP',
      redirectUris: [RP.redirectUri],
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'profile', 'email'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      firstParty: true,
    })
  ).clientSecret!;
});
afterAll(async () => {
  await t?.close();
});

async function browserOf(input: { amr?: string[]; acr?: string; roles?: string[] } = {}) {
  const user = await t.store.users.create({
    email: `u-${randomBytes(4).toString('hex')}@example.org`,
    password: randomBytes(12).toString('base64url'),
    roles: input.roles,
  });
  const session = await t.store.sessions.create({ userId: user.id, ttlSeconds: 3600, amr: input.amr, acr: input.acr });
  const cookie = (await sessionCookie({ sid: session.sid, csrf: randomBytes(24).toString('base64url'), interactions: {} }, t.provider.settings)).split(';')[0];
  return { user, session, cookie };
}
const authorize = (cookie: string, extra: Record<string, string>) =>
  authorizationEndpoint(
    new Request(
      `${TEST_ISSUER}/oidc/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: RP.clientId,
        redirect_uri: RP.redirectUri,
        scope: 'openid email',
        state: 's',
        nonce: 'n',
        ...extra,
      })}`,
      { headers: { cookie } },
    ),
    t.ctx,
    t.provider,
  );
const locationOf = (response: Response) => new URL(response.headers.get('location')!, TEST_ISSUER);
async function fakePasskey(userId: string) {
  await t.store.authenticators.addPasskey({
    userId,
    credentialId: randomBytes(16).toString('base64url'),
    publicKey: randomBytes(77),
    signCount: 0,
    transports: ['internal'],
    deviceType: 'singleDevice',
    backedUp: false,
    name: 'Laptop',
  });
}
async function redeem(code: string) {
  const response = await tokenEndpoint(
    new Request(`${TEST_ISSUER}/oidc/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP.redirectUri }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${RP.clientId}:${secret}`).toString('base64')}` },
    }),
    t.ctx,
    t.provider,
  );
  expect(response.status).toBe(200);
  return decodeJwt(((await response.json()) as { id_token: string }).id_token);
}

describe('the claims parameter (OIDC Core 5.5)', () => {
  it('parses id_token and userinfo members, with an essential acr and its values', () => {
    const parsed = parseClaimsParameter(
      JSON.stringify({ id_token: { acr: { essential: true, values: [ACR.mfa, ACR.phr] }, email: null }, userinfo: { name: { essential: true } } }),
    );
    expect(parsed).toEqual({ idToken: ['acr', 'email'], userinfo: ['name'], acr: { essential: true, values: [ACR.mfa, ACR.phr] } });
    expect(parseClaimsParameter(JSON.stringify({ id_token: { acr: { value: ACR.phr } } }))?.acr).toEqual({ essential: false, values: [ACR.phr] });
  });

  it.each([
    ['not JSON', '{"id_token":'],
    ['an array', '[]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['a member that is no object', '{"id_token":[]}'],
    ['a claim request that is no object', '{"id_token":{"acr":5}}'],
    ['essential that is no boolean', '{"id_token":{"acr":{"essential":"yes"}}}'],
    ['empty values', '{"id_token":{"acr":{"values":[]}}}'],
    ['a bad claim name', '{"id_token":{"a b":null}}'],
    ['too long', JSON.stringify({ id_token: { x: { value: 'y'.repeat(3000) } } })],
    ['a non-string acr value', '{"id_token":{"acr":{"values":[1]}}}'],
  ])('refuses %s as invalid_request', (_what, raw) => {
    expect(() => parseClaimsParameter(raw)).toThrow(OAuthError);
    try {
      parseClaimsParameter(raw);
    } catch (error) {
      expect((error as OAuthError).code).toBe('invalid_request');
    }
  });

  it('a malformed claims parameter at the authorization endpoint is invalid_request on the redirect URI', async () => {
    const { cookie } = await browserOf();
    const location = locationOf(await authorize(cookie, { claims: '{"id_token":' }));
    expect(location.origin + location.pathname).toBe(RP.redirectUri);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('puts requested ID token claims the scopes grant into the ID token, with amr and acr', async () => {
    const { cookie, user } = await browserOf({ amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa });
    const location = locationOf(await authorize(cookie, { claims: JSON.stringify({ id_token: { email: { essential: true }, name: null, acr: null } }) }));
    const claims = await redeem(location.searchParams.get('code')!);
    expect(claims).toMatchObject({ sub: user.id, email: user.email, amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa });
    // name needs the profile scope, which was not asked for
    expect(claims.name).toBeUndefined();
  });

  it('discovery advertises the claims parameter, the acr ladder and amr/acr', () => {
    const doc = discoveryDocument(t.provider.settings, DISCOVERED_PATHS);
    expect(doc.claims_parameter_supported).toBe(true);
    expect(doc.acr_values_supported).toEqual([ACR.pwd, ACR.mfa, ACR.phr]);
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['amr', 'acr']));
  });
});

describe('acr_values and step-up', () => {
  it('a password session asked for phr steps up to a passkey when the user has one', async () => {
    const { cookie, user } = await browserOf();
    await fakePasskey(user.id);
    const response = await authorize(cookie, { acr_values: ACR.phr });
    const location = locationOf(response);
    expect(location.pathname).toBe('/mfa');
    const browser = await readBrowserSession(
      new Request(TEST_ISSUER, { headers: { cookie: response.headers.get('set-cookie')!.split(';')[0] } }),
      t.provider.settings,
    );
    expect(browser.mfa).toMatchObject({ userId: user.id, need: 'phr', amr: ['pwd'], interactionId: location.searchParams.get('interaction') });
  });

  it('prompt=none cannot step up: login_required', async () => {
    const { cookie, user } = await browserOf();
    await fakePasskey(user.id);
    expect(locationOf(await authorize(cookie, { acr_values: ACR.phr, prompt: 'none' })).searchParams.get('error')).toBe('login_required');
  });

  it('a voluntary acr the user cannot reach is answered with the level reached', async () => {
    const { cookie } = await browserOf();
    const location = locationOf(await authorize(cookie, { acr_values: `${ACR.phr} ${ACR.mfa}` }));
    expect(location.searchParams.get('code')).toBeTruthy();
    expect((await redeem(location.searchParams.get('code')!)).acr).toBe(ACR.pwd);
  });

  it('an essential acr the user cannot reach is unmet_authentication_requirements', async () => {
    const { cookie } = await browserOf();
    const location = locationOf(await authorize(cookie, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [ACR.mfa] } } }) }));
    expect(location.searchParams.get('error')).toBe('unmet_authentication_requirements');
    const unknown = locationOf(await authorize(cookie, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:other:gold'] } } }) }));
    expect(unknown.searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  it('a stronger session answers a request for a lower level with that level (essential values are honoured)', async () => {
    const { cookie } = await browserOf({ amr: ['hwk', 'user', 'mfa'], acr: ACR.phr });
    const location = locationOf(await authorize(cookie, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [ACR.mfa] } } }) }));
    const claims = await redeem(location.searchParams.get('code')!);
    expect(claims).toMatchObject({ acr: ACR.mfa, amr: ['hwk', 'user', 'mfa'] });
  });

  it('the policy: an enrolled user with a password-only session steps up; a required role past its grace enrols', async () => {
    const enrolled = await browserOf();
    await fakePasskey(enrolled.user.id);
    expect(locationOf(await authorize(enrolled.cookie, {})).pathname).toBe('/mfa');

    const settings = t.provider.settings;
    t.provider.settings = { ...settings, mfa: { requiredRoles: ['admin'], enrolmentGraceDays: 0 } };
    try {
      const admin = await browserOf({ roles: ['admin'] });
      const location = locationOf(await authorize(admin.cookie, {}));
      expect(location.pathname).toBe('/account/security');
      expect(location.searchParams.get('return_to')).toMatch(/^\/oidc\/authorize\/resume\?interaction=/);
      t.provider.settings = { ...settings, mfa: { requiredRoles: ['admin'], enrolmentGraceDays: 7 } };
      const graced = await browserOf({ roles: ['admin'] });
      expect(locationOf(await authorize(graced.cookie, {})).searchParams.get('code')).toBeTruthy();
    } finally {
      t.provider.settings = settings;
    }
  });

  it('a client flagged to require MFA grants no grace', async () => {
    await t.store.authenticators.setClientRequiresMfa(RP.clientId, true);
    try {
      const { cookie } = await browserOf();
      expect(locationOf(await authorize(cookie, {})).pathname).toBe('/account/security');
    } finally {
      await t.store.authenticators.setClientRequiresMfa(RP.clientId, false);
    }
  });

  it('prompt=login and max_age still ask for a new sign-in, however strong the session', async () => {
    const { cookie } = await browserOf({ amr: ['hwk', 'user', 'mfa'], acr: ACR.phr });
    expect(locationOf(await authorize(cookie, { prompt: 'login', acr_values: ACR.pwd })).pathname).toBe('/login');
    expect(locationOf(await authorize(cookie, { max_age: '0' })).pathname).toBe('/login');
  });

  it('a correct password of a user with a second factor makes no session: the second step first', async () => {
    const password = randomBytes(12).toString('base64url');
    const user = await t.store.users.create({ email: `p-${randomBytes(4).toString('hex')}@example.org`, password });
    await fakePasskey(user.id);
    const csrf = randomBytes(24).toString('base64url');
    const cookie = (await sessionCookie({ csrf, interactions: {} }, t.provider.settings)).split(';')[0];
    const response = await loginAction(
      new Request(`${TEST_ISSUER}/interaction/login`, {
        method: 'POST',
        body: new URLSearchParams({ csrf, email: user.email, password, return_to: '/account/security' }),
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      }),
      t.ctx,
      t.provider,
    );
    expect(response.headers.get('location')).toBe('/mfa?return_to=%2Faccount%2Fsecurity');
    const browser = await readBrowserSession(
      new Request(TEST_ISSUER, { headers: { cookie: response.headers.getSetCookie()[0].split(';')[0] } }),
      t.provider.settings,
    );
    expect(browser.sid).toBeUndefined();
    expect(browser.mfa).toMatchObject({ userId: user.id, amr: ['pwd'], need: 'mfa', returnTo: '/account/security' });
    expect(await t.store.db.query('select 1 from identity.sessions where user_id = $1', [user.id])).toEqual([]);
  });

  it('the ladder: amr to acr, combined steps, the token acr', () => {
    expect(acrOf(['pwd'])).toBe(ACR.pwd);
    expect(acrOf(combineAmr(['pwd'], ['otp']))).toBe(ACR.mfa);
    expect(combineAmr(['pwd'], ['otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(combineAmr(['pwd', 'otp', 'mfa'], ['hwk'])).toEqual(['pwd', 'otp', 'hwk', 'mfa']);
    expect(combineAmr(['hwk', 'user'])).toEqual(['hwk', 'user', 'mfa']);
    expect(acrOf(['hwk', 'user', 'mfa'])).toBe(ACR.phr);
    expect(acrForToken(ACR.phr, [ACR.pwd, ACR.mfa])).toBe(ACR.mfa);
    expect(acrForToken(ACR.pwd, [ACR.phr])).toBe(ACR.pwd);
  });
});

describe('TOTP replay window and recovery codes', () => {
  async function enrolledUser() {
    const { user } = await browserOf();
    const totpSecret = newTotpSecret();
    await t.store.authenticators.beginTotp(user.id, totpSecret);
    const step = Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS) - 5;
    expect(await t.store.authenticators.acceptTotpStep(user.id, step, { confirm: true, now: new Date() })).toBe(true);
    return { user, totpSecret };
  }

  it('accepts a code once; the same code again, and an older one, are refused', async () => {
    const { user, totpSecret } = await enrolledUser();
    const now = Date.now();
    const current = totpCode(totpSecret, now);
    const previous = totpCode(totpSecret, now - TOTP_PERIOD_SECONDS * 1000);
    expect(await verifySecondFactor(t.provider, user.id, { code: current }, t.ctx)).toMatchObject({ ok: true, method: 'totp', amr: ['otp'] });
    expect(await verifySecondFactor(t.provider, user.id, { code: current }, t.ctx)).toMatchObject({ ok: false });
    // still inside the window, but older than the step just used
    if (previous !== current) expect(await verifySecondFactor(t.provider, user.id, { code: previous }, t.ctx)).toMatchObject({ ok: false });
    const stored = await t.store.authenticators.totpOf(user.id);
    expect(stored!.lastUsedStep).toBe(Math.floor(now / 1000 / TOTP_PERIOD_SECONDS));
    // the secret is encrypted at rest
    const [row] = await t.store.db.query<{ secret_encrypted: string }>(`select secret_encrypted from identity.totp_authenticators where user_id = $1`, [
      user.id,
    ]);
    expect(row.secret_encrypted).not.toContain(totpSecret);
    expect(t.events.filter((e) => e.userId === user.id).map((e) => e.action)).toEqual([
      'auth.mfa_succeeded',
      'auth.mfa_failed',
      ...(previous !== current ? ['auth.mfa_failed'] : []),
    ]);
  });

  it('two concurrent uses of one code: exactly one wins', async () => {
    const { user, totpSecret } = await enrolledUser();
    const code = totpCode(totpSecret, Date.now());
    const results = await Promise.all([1, 2, 3].map(() => verifySecondFactor(t.provider, user.id, { code }, t.ctx)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('a recovery code works once, whatever its case or dashes', async () => {
    const { user } = await enrolledUser();
    const codes = newRecoveryCodes();
    await t.store.authenticators.replaceRecoveryCodes(
      user.id,
      codes.map((c) => normaliseRecoveryCode(c)!),
    );
    expect(await verifySecondFactor(t.provider, user.id, { code: codes[3].toUpperCase() }, t.ctx)).toMatchObject({ ok: true, method: 'recovery_code' });
    expect(await verifySecondFactor(t.provider, user.id, { code: codes[3] }, t.ctx)).toMatchObject({ ok: false });
    expect((await t.store.authenticators.secondFactors(user.id)).recoveryCodesLeft).toBe(9);
    const used = t.events.find((e) => e.userId === user.id && e.action === 'auth.recovery_code_used');
    expect(JSON.stringify(used)).not.toContain(normaliseRecoveryCode(codes[3])!);
  });

  it('is throttled like passwords: past the free failures nothing is checked until the wait is over', async () => {
    const { user, totpSecret } = await enrolledUser();
    const realNow = t.provider.now;
    const frozen = new Date();
    t.provider.now = () => frozen;
    onTestFinished(() => void (t.provider.now = realNow));
    for (let i = 0; i < t.provider.settings.login.maxFailures; i++)
      expect(await verifySecondFactor(t.provider, user.id, { code: '000000' }, t.ctx)).toEqual({ ok: false, retryAfterSeconds: null });
    const refused = await verifySecondFactor(t.provider, user.id, { code: totpCode(totpSecret, frozen.getTime()) }, t.ctx);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(t.events.filter((e) => e.userId === user.id && e.action === 'security.rate_limited')).toHaveLength(1);
  });
});
