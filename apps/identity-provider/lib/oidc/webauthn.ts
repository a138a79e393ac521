import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { User, WebAuthnChallengePurpose, WebAuthnCredential } from './domain';
import type { Provider } from './ports';

/**
 * Passkeys (WebAuthn L2/L3) through SimpleWebAuthn. The RP ID is the issuer's host and the only accepted
 * origin the issuer's origin, so a credential works nowhere else (phishing resistance). Challenges are
 * random, stored as keyed digests, bound to the browser (its CSRF token), live CHALLENGE_TTL_SECONDS and
 * are deleted when presented, whatever the outcome.
 */
export const CHALLENGE_TTL_SECONDS = 300;
const TIMEOUT_MS = CHALLENGE_TTL_SECONDS * 1000;
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

export const rpIdOf = (issuer: string) => new URL(issuer).hostname;
const originOf = (issuer: string) => new URL(issuer).origin;

const b64url = z
  .string()
  .max(16_384)
  .regex(/^[A-Za-z0-9_-]*$/);
/** The browser's credential as @simplewebauthn/browser sends it; bounded before any parsing. */
const credentialResponse = z.object({
  id: b64url.max(1366),
  rawId: b64url.max(1366),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  response: z.looseObject({
    clientDataJSON: b64url,
    authenticatorData: b64url.optional(),
    signature: b64url.optional(),
    userHandle: b64url.max(128).optional(),
    attestationObject: b64url.optional(),
    transports: z.array(z.string().max(16)).max(8).optional(),
  }),
});
export type CredentialResponse = z.infer<typeof credentialResponse>;

/** The parsed response, or null when it is not the shape a browser sends. */
export function parseCredentialResponse(value: unknown): CredentialResponse | null {
  const parsed = credentialResponse.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** The challenge the browser signed (from clientDataJSON), to find and burn our record of it. */
export function challengeOf(response: CredentialResponse): string | null {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && data.challenge.length <= 256 ? data.challenge : null;
  } catch {
    return null;
  }
}

const transportsOf = (values: string[]) => values.filter((t) => TRANSPORTS.has(t)) as AuthenticatorTransport[];

async function remember(provider: Provider, challenge: string, purpose: WebAuthnChallengePurpose, userId: string | null, binding: string) {
  await provider.store.authenticators.saveChallenge({ challenge, purpose, userId, binding, ttlSeconds: CHALLENGE_TTL_SECONDS, now: provider.now() });
}

/** Options for registering a passkey: discoverable (resident key) with user verification, so it can sign in alone. */
export async function registrationOptions(provider: Provider, user: Pick<User, 'id' | 'email' | 'name'>, binding: string) {
  const existing = await provider.store.authenticators.listPasskeys(user.id);
  const options = await generateRegistrationOptions({
    rpName: 'Identity provider',
    rpID: rpIdOf(provider.settings.issuer),
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    // the user handle: our user id's bytes, never the email (WebAuthn 14.6.1: no personal data)
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    timeout: TIMEOUT_MS,
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: transportsOf(c.transports) })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  await remember(provider, options.challenge, 'register', user.id, binding);
  return options;
}

/** Options for signing in: passwordless (no allow list: the browser offers discoverable credentials) or as a user's second factor. */
export async function authenticationOptions(provider: Provider, purpose: 'passwordless' | 'second_factor', userId: string | null, binding: string) {
  const allow = userId ? await provider.store.authenticators.listPasskeys(userId) : [];
  const options = await generateAuthenticationOptions({
    rpID: rpIdOf(provider.settings.issuer),
    timeout: TIMEOUT_MS,
    userVerification: purpose === 'passwordless' ? 'required' : 'preferred',
    ...(purpose === 'second_factor' ? { allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: transportsOf(c.transports) })) } : {}),
  });
  await remember(provider, options.challenge, purpose, userId, binding);
  return options;
}

export type RegistrationOutcome =
  { ok: true; credential: Omit<WebAuthnCredential, 'id' | 'userId' | 'name' | 'createdAt' | 'lastUsedAt'>; userVerified: boolean } | { ok: false };

/** Verifies a registration against a challenge this browser got for this user. */
export async function verifyRegistration(provider: Provider, userId: string, response: CredentialResponse, binding: string): Promise<RegistrationOutcome> {
  const challenge = challengeOf(response);
  const record = challenge ? await provider.store.authenticators.consumeChallenge(challenge, 'register', binding, provider.now()) : undefined;
  if (!challenge || !record || record.userId !== userId || !response.response.attestationObject) return { ok: false };
  try {
    const result = await verifyRegistrationResponse({
      response: response as unknown as RegistrationResponseJSON,
      expectedChallenge: challenge,
      expectedOrigin: originOf(provider.settings.issuer),
      expectedRPID: rpIdOf(provider.settings.issuer),
      requireUserVerification: true,
    });
    if (!result.verified) return { ok: false };
    const info = result.registrationInfo;
    return {
      ok: true,
      userVerified: info.userVerified,
      credential: {
        credentialId: info.credential.id,
        publicKey: info.credential.publicKey,
        signCount: info.credential.counter,
        transports: transportsOf(response.response.transports ?? []),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
      },
    };
  } catch {
    // malformed attestation, wrong origin, RP ID or challenge: a refusal, never a 500
    return { ok: false };
  }
}

export type AssertionOutcome = { ok: true; userId: string; credential: WebAuthnCredential; userVerified: boolean } | { ok: false; userId: string | null };

/**
 * Verifies an assertion against a challenge this browser got for `purpose`. A passwordless assertion
 * must carry user verification and name its user (the user handle must match the credential's owner);
 * a second-factor assertion must come from one of `expectedUserId`'s credentials.
 */
export async function verifyAssertion(
  provider: Provider,
  purpose: 'passwordless' | 'second_factor',
  response: CredentialResponse,
  binding: string,
  expectedUserId: string | null,
): Promise<AssertionOutcome> {
  const challenge = challengeOf(response);
  const record = challenge ? await provider.store.authenticators.consumeChallenge(challenge, purpose, binding, provider.now()) : undefined;
  if (!challenge || !record || (purpose === 'second_factor' && record.userId !== expectedUserId)) return { ok: false, userId: null };
  const credential = await provider.store.authenticators.findPasskeyByCredentialId(response.id);
  if (!credential || (expectedUserId && credential.userId !== expectedUserId)) return { ok: false, userId: expectedUserId };
  if (
    purpose === 'passwordless' &&
    response.response.userHandle !== undefined &&
    Buffer.from(response.response.userHandle, 'base64url').toString('utf8') !== credential.userId
  )
    return { ok: false, userId: null };
  if (!response.response.authenticatorData || !response.response.signature) return { ok: false, userId: credential.userId };
  try {
    const result = await verifyAuthenticationResponse({
      response: response as unknown as AuthenticationResponseJSON,
      expectedChallenge: challenge,
      expectedOrigin: originOf(provider.settings.issuer),
      expectedRPID: rpIdOf(provider.settings.issuer),
      credential: {
        id: credential.credentialId,
        publicKey: credential.publicKey as Uint8Array<ArrayBuffer>,
        counter: credential.signCount,
        transports: transportsOf(credential.transports),
      },
      requireUserVerification: purpose === 'passwordless',
    });
    if (!result.verified) return { ok: false, userId: credential.userId };
    const info = result.authenticationInfo;
    await provider.store.authenticators.recordPasskeyUse(credential.id, info.newCounter, info.credentialBackedUp, provider.now());
    return { ok: true, userId: credential.userId, credential, userVerified: info.userVerified };
  } catch {
    // bad signature, counter went backwards (a cloned authenticator), wrong origin: refused
    return { ok: false, userId: credential.userId };
  }
}

/** amr of a passkey: device-bound keys are `hwk`, synced passkeys `swk` (RFC 8176); `user` when the user was verified. */
export function passkeyAmr(credential: Pick<WebAuthnCredential, 'deviceType'>, userVerified: boolean): string[] {
  return [credential.deviceType === 'singleDevice' ? 'hwk' : 'swk', ...(userVerified ? ['user'] : [])];
}
