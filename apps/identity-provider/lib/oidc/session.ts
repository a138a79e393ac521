import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sealData, unsealData } from 'iron-session';
import type { ProviderSettings } from './ports';

/** The session cookie's name on plain http (development, tests). */
export const SESSION_COOKIE = 'idp_session';
/** On https: the `__Host-` prefix makes browsers insist on Secure, Path=/ and no Domain (no subdomain can set it). */
export const SECURE_SESSION_COOKIE = '__Host-idp_session';
/** Recognised device (README "Login protection"): a random id, set at a successful login, kept long. */
export const DEVICE_COOKIE = 'idp_device';
export const SECURE_DEVICE_COOKIE = '__Host-idp_device';
const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600; // the longest lifetime browsers keep (RFC 6265bis)

export const sessionCookieName = (settings: Pick<ProviderSettings, 'secureCookies'>) => (settings.secureCookies ? SECURE_SESSION_COOKIE : SESSION_COOKIE);
export const deviceCookieName = (settings: Pick<ProviderSettings, 'secureCookies'>) => (settings.secureCookies ? SECURE_DEVICE_COOKIE : DEVICE_COOKIE);
const MAX_PENDING = 5;

/** An authorization request waiting for login or consent. */
export interface PendingAuthorization {
  params: Record<string, string>;
  createdAt: number;
  /** When the user authenticated during this interaction (satisfies prompt=login and max_age). */
  loginAt?: number;
  /** When the user consented during this interaction (satisfies prompt=consent). */
  consentAt?: number;
}

/**
 * A sign-in halfway through (README "Second factors and passkeys"): the first step passed (the password, or
 * an existing session that must step up) and the second factor is due. Grants nothing by itself.
 */
export interface PendingSecondFactor {
  userId: string;
  /** Methods passed so far (RFC 8176): ['pwd'] after the password, the session's own for a step-up. */
  amr: string[];
  /** When the first step passed (ms); the second must follow within SECOND_FACTOR_WINDOW_MS. */
  at: number;
  /** The level the step must reach: any second factor (mfa), or a passkey (phr). */
  need: 'mfa' | 'phr';
  /** Where the sign-in goes on: a pending authorization, or a local path. */
  interactionId?: string;
  returnTo?: string;
  /** An existing session proving itself again (acr_values, the policy, the security page), not a new sign-in. */
  stepUp?: boolean;
}

/** How long a passed password waits for its second factor. */
export const SECOND_FACTOR_WINDOW_MS = 10 * 60 * 1000;

/**
 * What the browser carries, sealed with iron-session (encrypted and authenticated): the id of the
 * server-side session record (so logout and revocation can end it), the CSRF token for forms, and
 * pending interactions. No personal data.
 */
export interface BrowserSession {
  sid?: string;
  csrf: string;
  /** Keyed by random ids; read through pendingInteraction(). */
  interactions: Record<string, PendingAuthorization>;
  logout?: { postLogoutRedirectUri?: string; state?: string };
  /**
   * A reset or verification token from a mailed link, moved here (sealed) by the link's endpoint so that the
   * page and its form never carry it in a URL (no Referer, history or log leak).
   */
  recovery?: { reset?: string; verify?: string };
  /** A sign-in waiting for its second factor (or a step-up), if any. */
  mfa?: PendingSecondFactor;
}

export function readCookie(request: Request, name: string): string | null {
  const header = request.headers.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function readBrowserSession(request: Request, settings: ProviderSettings): Promise<BrowserSession> {
  const sealed = readCookie(request, sessionCookieName(settings));
  if (sealed) {
    try {
      const data = await unsealData<Partial<BrowserSession>>(decodeURIComponent(sealed), { password: settings.sessionSecret, ttl: settings.ttl.session });
      if (typeof data.csrf === 'string') return { interactions: {}, ...data, csrf: data.csrf };
    } catch {
      // tampered, expired or sealed with an old secret: start afresh
    }
  }
  return { csrf: newCsrfToken(), interactions: {} };
}

export async function sessionCookie(session: BrowserSession, settings: ProviderSettings): Promise<string> {
  // keep only the newest pending interactions so the cookie stays small
  const entries = Object.entries(session.interactions)
    .sort(([, a], [, b]) => b.createdAt - a.createdAt)
    .slice(0, MAX_PENDING);
  const sealed = await sealData({ ...session, interactions: Object.fromEntries(entries) }, { password: settings.sessionSecret, ttl: settings.ttl.session });
  return [
    `${sessionCookieName(settings)}=${encodeURIComponent(sealed)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${settings.ttl.session}`,
    ...(settings.secureCookies ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(settings: ProviderSettings): string {
  return [`${sessionCookieName(settings)}=`, 'Path=/', 'HttpOnly', 'SameSite=Lax', 'Max-Age=0', ...(settings.secureCookies ? ['Secure'] : [])].join('; ');
}

export function csrfMatches(session: BrowserSession, presented: string | null | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

const INTERACTION_ID_BYTES = 12;
const INTERACTION_ID = new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((INTERACTION_ID_BYTES * 4) / 3)}}$`);

export function newInteractionId(): string {
  return randomBytes(INTERACTION_ID_BYTES).toString('base64url');
}

/**
 * Whether a presented interaction id has the shape newInteractionId() makes: ids flow into Location headers,
 * so CR/LF or other bytes must be refused before anything else happens. Object.prototype names are no ids.
 */
export function isInteractionId(id: string | null | undefined): id is string {
  return typeof id === 'string' && INTERACTION_ID.test(id) && !(id in Object.prototype);
}

const DEVICE_ID = /^[A-Za-z0-9_-]{43}$/;

/** The browser's device id, if it carries a well-formed one. */
export function readDeviceId(request: Request, settings: Pick<ProviderSettings, 'secureCookies'>): string | null {
  const value = readCookie(request, deviceCookieName(settings));
  return value && DEVICE_ID.test(value) ? value : null;
}

export function newDeviceId(): string {
  return randomBytes(32).toString('base64url');
}

/** HttpOnly and long-lived; it only lets its browser skip the per-IP and account-wide throttles of its accounts. */
export function deviceCookie(deviceId: string, settings: Pick<ProviderSettings, 'secureCookies'>): string {
  return [
    `${deviceCookieName(settings)}=${deviceId}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${DEVICE_COOKIE_MAX_AGE}`,
    ...(settings.secureCookies ? ['Secure'] : []),
  ].join('; ');
}

/** The pending interaction with this id, if any: own properties only, so "__proto__" and friends are nothing. */
export function pendingInteraction(session: BrowserSession, id: string | null | undefined): PendingAuthorization | undefined {
  return id && Object.hasOwn(session.interactions, id) ? session.interactions[id] : undefined;
}

/**
 * Same-origin check for form posts. With our `no-referrer` policy browsers may send `Origin: null`, so
 * that value alone proves nothing either way; Fetch Metadata, when present, must say same-origin. The
 * CSRF token remains the real defence.
 */
export function isCrossSiteFormPost(request: Request, issuer: string): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.get('origin');
  return !!origin && origin !== 'null' && origin !== new URL(issuer).origin;
}
