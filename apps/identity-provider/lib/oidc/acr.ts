import { z } from 'zod';
import { InvalidRequest } from './errors';

/**
 * The acr ladder (README "acr ladder"): what an ID token's `acr` says about the sign-in, weakest first.
 * - `urn:idp:acr:pwd`: one factor (a password).
 * - `urn:idp:acr:mfa`: two factors, one of them phishable (password + TOTP or a recovery code).
 * - `urn:idp:acr:phr`: phishing-resistant: a passkey took part (origin-bound), passwordless with user
 *   verification or as the second factor after the password.
 * A request asking for a level is satisfied by that level or any above it.
 */
export const ACR = { pwd: 'urn:idp:acr:pwd', mfa: 'urn:idp:acr:mfa', phr: 'urn:idp:acr:phr' } as const;
export type Acr = (typeof ACR)[keyof typeof ACR];
export const ACR_LADDER: readonly Acr[] = [ACR.pwd, ACR.mfa, ACR.phr];

export const acrLevel = (acr: string): number => ACR_LADDER.indexOf(acr as Acr);
export const isKnownAcr = (acr: string): acr is Acr => acrLevel(acr) >= 0;

/** RFC 8176 values this provider emits. */
export type AmrValue = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa';

/** The level a set of methods reaches: a passkey makes it phishing-resistant, two factors make it MFA. */
export function acrOf(amr: readonly string[]): Acr {
  if (amr.includes('hwk') || amr.includes('swk')) return ACR.phr;
  const factors = new Set(amr.filter((m) => m === 'pwd' || m === 'otp'));
  return factors.size >= 2 ? ACR.mfa : ACR.pwd;
}

/**
 * The methods of a sign-in made of several steps: their union, plus `mfa` (RFC 8176 2) once two factors
 * took part. A passkey used with user verification is marked `user` and counts as two (possession of the
 * key, and the PIN or biometric that unlocked it).
 */
export function combineAmr(...sets: readonly (readonly string[])[]): AmrValue[] {
  const all = new Set(sets.flat());
  const ordered = (['pwd', 'otp', 'hwk', 'swk', 'user'] as const).filter((m) => all.has(m));
  const factors = ordered.filter((m) => m !== 'user').length + (all.has('user') ? 1 : 0);
  return factors >= 2 ? [...ordered, 'mfa'] : [...ordered];
}

/** What the request asks of the authentication: the lowest acceptable level, and whether it is essential. */
export interface AcrRequirement {
  /** Requested values in the order given, known ones only. */
  values: Acr[];
  /** OIDC Core 5.5.1.1: essential acr with values: the ID token's acr must be one of them, or the request fails. */
  essential: boolean;
}

/** The weakest requested level, which satisfies the request (null: nothing we know was asked for). */
export function minimumAcr(requirement: AcrRequirement | null): Acr | null {
  if (!requirement || !requirement.values.length) return null;
  return requirement.values.reduce((low, value) => (acrLevel(value) < acrLevel(low) ? value : low));
}

/**
 * The `acr` to put in the ID token for a session at `sessionAcr`: with requested values, the strongest
 * requested value the session reaches (a phr session answers a request for mfa with mfa, which it implies);
 * otherwise the session's own level.
 */
export function acrForToken(sessionAcr: string, requested: readonly string[] | undefined): string {
  if (!requested?.length) return sessionAcr;
  const reached = requested.filter((v) => isKnownAcr(v) && acrLevel(v) <= acrLevel(sessionAcr));
  if (!reached.length) return sessionAcr;
  return reached.reduce((high, value) => (acrLevel(value) > acrLevel(high) ? value : high));
}

// --- the claims request parameter (OIDC Core 5.5) ---------------------------------------------------------

/** Bounds: the parameter travels in the sealed session cookie while the user signs in. */
export const MAX_CLAIMS_PARAMETER_LENGTH = 2048;
const MAX_CLAIMS_PER_MEMBER = 32;
const CLAIM_NAME = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/);
const CLAIM_VALUE = z.union([z.string().max(256), z.number(), z.boolean()]);

/** Individual claim request (5.5.1): null, or { essential, value, values } (other members ignored, as 5.5 says). */
const claimRequest = z.union([
  z.null(),
  z.looseObject({ essential: z.boolean().optional(), value: CLAIM_VALUE.optional(), values: z.array(CLAIM_VALUE).min(1).max(16).optional() }),
]);
const claimsMember = z.record(CLAIM_NAME, claimRequest).refine((m) => Object.keys(m).length <= MAX_CLAIMS_PER_MEMBER, 'too many claims');
const claimsParameter = z.looseObject({ userinfo: claimsMember.optional(), id_token: claimsMember.optional() });

export interface ClaimsRequest {
  /** Claim names asked for in the ID token. */
  idToken: string[];
  /** Claim names asked for from userinfo (served by scope; recorded for completeness). */
  userinfo: string[];
  /** What `id_token.acr` asks for, if anything. */
  acr: { essential: boolean; values: string[] } | null;
}

/** Parses and bounds the `claims` parameter; anything malformed is `invalid_request`. */
export function parseClaimsParameter(raw: string | undefined): ClaimsRequest | null {
  if (raw === undefined) return null;
  if (raw.length > MAX_CLAIMS_PARAMETER_LENGTH) throw new InvalidRequest('The claims parameter is too long');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidRequest('The claims parameter is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidRequest('The claims parameter must be a JSON object');
  const parsed = claimsParameter.safeParse(json);
  if (!parsed.success) throw new InvalidRequest('The claims parameter is malformed');
  const idToken = parsed.data.id_token ?? {};
  const acr = Object.hasOwn(idToken, 'acr') ? idToken.acr : undefined;
  let acrRequest: ClaimsRequest['acr'] = null;
  if (acr) {
    const values = acr.values ?? (acr.value !== undefined ? [acr.value] : []);
    if (values.some((v) => typeof v !== 'string')) throw new InvalidRequest('acr values in the claims parameter must be strings');
    acrRequest = { essential: acr.essential === true, values: values as string[] };
  } else if (acr === null) {
    acrRequest = { essential: false, values: [] };
  }
  return { idToken: Object.keys(idToken), userinfo: Object.keys(parsed.data.userinfo ?? {}), acr: acrRequest };
}

/**
 * The acr requirement of a request: `claims` id_token.acr (essential or not) takes precedence over
 * `acr_values` (always voluntary, OIDC Core 3.1.2.1). Unknown values are ignored unless they are all an
 * essential request names, which can then never be met.
 */
export function acrRequirement(acrValues: string | undefined, claims: ClaimsRequest | null): (AcrRequirement & { unknownOnly: boolean }) | null {
  if (acrValues !== undefined && (acrValues.length > 512 || !/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(acrValues)))
    throw new InvalidRequest('acr_values is malformed');
  const fromClaims = claims?.acr && claims.acr.values.length ? claims.acr : null;
  const requested = fromClaims ? fromClaims.values : acrValues ? acrValues.split(' ') : [];
  if (!requested.length) return null;
  const values = requested.filter(isKnownAcr);
  return { values, essential: fromClaims?.essential ?? false, unknownOnly: values.length === 0 };
}
