import QRCode from 'qrcode';
import { z } from 'zod';
import type { Session, User } from '../domain';
import { acrOf, combineAmr } from '../acr';
import { InvalidRequest } from '../errors';
import type { Provider, RequestContext } from '../ports';
import { errorResponse, json } from '../respond';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, recordSecondFactorFailure, totpStepOf, totpUri } from '../second-factor';
import { hasControlChars } from '../../security/input';
import { readJsonCall } from '../steps/read-json';
import { parseCredentialResponse, passkeyAmr, verifyRegistration } from '../webauthn';
import { mayChangeFactors } from './second-factor';

/**
 * The JSON calls behind /account/security (README "Second factors and passkeys"): TOTP enrolment with a
 * confirmation code, recovery codes (shown once, stored as digests), passkey registration, rename and
 * removal. Every call needs the signed-in user's session and CSRF token; changing factors of a user who
 * has some needs a session that passed one (mayChangeFactors). Audit details carry ids only.
 */
type Call = { body: Record<string, unknown>; session: Session; user: User; ctx: RequestContext; provider: Provider };

const fail = (status: number, description: string) => errorResponse(Object.assign(new InvalidRequest(description), { status }));

function securityCall(handler: (call: Call) => Promise<Response>, options: { changesFactors: boolean }) {
  return async (request: Request, ctx: RequestContext, provider: Provider): Promise<Response> => {
    const input = await readJsonCall(request, ctx, provider.settings);
    if ('rejected' in input) return input.rejected;
    const session = input.browser.sid ? await provider.store.sessions.findActive(input.browser.sid) : null;
    const user = session ? await provider.store.users.findById(session.userId) : null;
    if (!session || !user) return fail(401, 'Sign in first');
    if (options.changesFactors && !(await mayChangeFactors(provider, session))) return fail(403, 'Verify with your second factor first');
    return handler({ body: input.body, session, user, ctx, provider });
  };
}

const audit = (
  call: Call,
  action: 'auth.mfa_enrolled' | 'auth.mfa_removed' | 'auth.passkey_registered' | 'auth.passkey_removed',
  details: Record<string, unknown>,
) => call.provider.audit.record({ action, userId: call.user.id, ip: call.ctx.ip, userAgent: call.ctx.userAgent, requestId: call.ctx.requestId, details });

/** A user's first factor makes the session that enrolled it count as having passed it (bootstrapping the policy). */
async function creditFirstFactor(call: Call, hadFactors: boolean, amr: string[]): Promise<void> {
  if (hadFactors) return;
  const combined = combineAmr(call.session.amr, amr);
  await call.provider.store.sessions.elevate(call.session.sid, combined, acrOf(combined));
}

async function hasFactors(provider: Provider, userId: string): Promise<boolean> {
  const factors = await provider.store.authenticators.secondFactors(userId);
  return factors.totp || factors.passkeys > 0;
}

/** New recovery codes when the user has none left; the plaintext goes to the browser once. */
async function issueRecoveryCodesIfNone(call: Call): Promise<string[] | null> {
  if ((await call.provider.store.authenticators.secondFactors(call.user.id)).recoveryCodesLeft > 0) return null;
  return issueRecoveryCodes(call);
}

async function issueRecoveryCodes(call: Call): Promise<string[]> {
  const codes = newRecoveryCodes();
  await call.provider.store.authenticators.replaceRecoveryCodes(
    call.user.id,
    codes.map((code) => normaliseRecoveryCode(code)!),
  );
  audit(call, 'auth.mfa_enrolled', { factor: 'recovery_codes', count: codes.length });
  return codes;
}

export const totpBeginAction = securityCall(
  async (call) => {
    const secret = newTotpSecret();
    if (!(await call.provider.store.authenticators.beginTotp(call.user.id, secret)))
      return fail(409, 'An authenticator app is already set up; remove it first');
    const uri = totpUri(secret, call.user.email, new URL(call.provider.settings.issuer).host);
    return json({ secret, otpauth_uri: uri, qr_svg: await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }) });
  },
  { changesFactors: true },
);

const codeBody = z.object({ code: z.string().max(16) });

export const totpConfirmAction = securityCall(
  async (call) => {
    const parsed = codeBody.safeParse(call.body);
    if (!parsed.success) return fail(400, 'code is required');
    const { provider, user } = call;
    const totp = await provider.store.authenticators.totpOf(user.id);
    if (!totp || totp.confirmed) return fail(409, 'Start the setup of an authenticator app first');
    const now = provider.now();
    const hadFactors = await hasFactors(provider, user.id);
    const step = totpStepOf(totp.secret, parsed.data.code.replace(/\s/g, ''), now.getTime());
    if (step === null || !(await provider.store.authenticators.acceptTotpStep(user.id, step, { confirm: true, now }))) {
      await recordSecondFactorFailure(provider, user.id);
      return fail(400, 'The code is not valid. Check the time on your device and try the current code');
    }
    audit(call, 'auth.mfa_enrolled', { factor: 'totp' });
    await creditFirstFactor(call, hadFactors, ['otp']);
    return json({ recovery_codes: await issueRecoveryCodesIfNone(call) });
  },
  { changesFactors: true },
);

export const totpRemoveAction = securityCall(
  async (call) => {
    if (!(await call.provider.store.authenticators.removeTotp(call.user.id))) return fail(404, 'No authenticator app is set up');
    if (!(await hasFactors(call.provider, call.user.id))) await call.provider.store.authenticators.removeRecoveryCodes(call.user.id);
    audit(call, 'auth.mfa_removed', { factor: 'totp' });
    return json({ removed: true });
  },
  { changesFactors: true },
);

export const recoveryCodesAction = securityCall(
  async (call) => {
    if (!(await hasFactors(call.provider, call.user.id))) return fail(409, 'Set up a passkey or an authenticator app first');
    return json({ recovery_codes: await issueRecoveryCodes(call) });
  },
  { changesFactors: true },
);

const NAME = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine((name) => !hasControlChars(name), 'no control characters');
const registerBody = z.object({ response: z.unknown(), name: NAME.optional() });

export const passkeyRegisterAction = securityCall(
  async (call) => {
    const parsed = registerBody.safeParse(call.body);
    const response = parsed.success ? parseCredentialResponse(parsed.data.response) : null;
    if (!parsed.success || !response) return fail(400, 'The passkey response is malformed');
    const { provider, user } = call;
    const hadFactors = await hasFactors(provider, user.id);
    const outcome = await verifyRegistration(provider, user.id, response, (await readBinding(call)) ?? '');
    if (!outcome.ok) return fail(400, 'The passkey could not be registered. Try again');
    const stored = await provider.store.authenticators.addPasskey({
      ...outcome.credential,
      userId: user.id,
      name: parsed.data.name ?? defaultName(provider.now()),
    });
    if (!stored) return fail(409, 'This passkey is registered already');
    audit(call, 'auth.passkey_registered', { passkey_id: stored.id, device_type: stored.deviceType, backed_up: stored.backedUp });
    await creditFirstFactor(call, hadFactors, passkeyAmr(stored, outcome.userVerified));
    return json({ id: stored.id, name: stored.name, recovery_codes: await issueRecoveryCodesIfNone(call) });
  },
  { changesFactors: true },
);

const idBody = z.object({ id: z.string().max(64) });

export const passkeyRenameAction = securityCall(
  async (call) => {
    const parsed = idBody.extend({ name: NAME }).safeParse(call.body);
    if (!parsed.success) return fail(400, 'id and a name of 1 to 64 characters are required');
    if (!(await call.provider.store.authenticators.renamePasskey(call.user.id, parsed.data.id, parsed.data.name))) return fail(404, 'No such passkey');
    return json({ id: parsed.data.id, name: parsed.data.name });
  },
  { changesFactors: false },
);

export const passkeyRemoveAction = securityCall(
  async (call) => {
    const parsed = idBody.safeParse(call.body);
    if (!parsed.success) return fail(400, 'id is required');
    if (!(await call.provider.store.authenticators.removePasskey(call.user.id, parsed.data.id))) return fail(404, 'No such passkey');
    if (!(await hasFactors(call.provider, call.user.id))) await call.provider.store.authenticators.removeRecoveryCodes(call.user.id);
    audit(call, 'auth.passkey_removed', { passkey_id: parsed.data.id });
    return json({ removed: true });
  },
  { changesFactors: true },
);

const defaultName = (now: Date) => `Passkey added ${now.toISOString().slice(0, 10)}`;

// the challenge binding is the browser's CSRF token, which readJsonCall already matched against the body
async function readBinding(call: Call): Promise<string | null> {
  return typeof call.body.csrf === 'string' ? call.body.csrf : null;
}
