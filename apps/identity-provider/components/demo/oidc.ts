import { createRemoteJWKSet, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

/**
 * A minimal public OpenID Connect relying party for the /demo page: authorization code + PKCE (S256),
 * state, nonce and RFC 9207 `iss` checks, ID token verification against the provider's JWKS, refresh token
 * rotation and RP-initiated logout. Everything lives in this tab: sessionStorage and memory, never cookies
 * or localStorage.
 */
export const CLIENT_ID = 'demo-spa';
export const SCOPE = 'openid profile email offline_access';

const TRANSACTION_KEY = 'demo-spa.transaction';
const SESSION_KEY = 'demo-spa.session';
const LOGOUT_KEY = 'demo-spa.logout';

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
}

interface Transaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  createdAt: number;
}

export interface VerifiedIdToken {
  header: ProtectedHeaderParameters;
  claims: JWTPayload & Record<string, unknown>;
}

/** What the demo keeps after a successful sign-in or refresh. */
export interface DemoSession {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string | null;
  idToken: string;
  idTokenVerified: VerifiedIdToken;
  scope: string;
  obtainedAt: number;
  /** Set after a refresh: what changed compared with the previous token set. */
  lastRefresh?: { at: number; refreshTokenChanged: boolean; accessTokenChanged: boolean; previousAccessTokenExpiresAt: number };
}

export class DemoError extends Error {
  constructor(
    readonly code: string,
    description: string,
  ) {
    super(description);
    this.name = 'DemoError';
  }
}

// ---------------------------------------------------------------------------------------------- helpers

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 32 random bytes → 43 base64url characters (RFC 7636 4.1 asks for 43 to 128). */
export function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export async function s256Challenge(verifier: string): Promise<string> {
  return base64url(await sha256(verifier));
}

function readJson<T>(key: string): T | null {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

let discovery: Promise<Discovery> | null = null;

/** The provider's metadata; the demo runs on the provider's own origin, so the issuer must be that origin. */
export function discover(): Promise<Discovery> {
  discovery ??= (async () => {
    const response = await fetch('/.well-known/openid-configuration', { cache: 'no-store' });
    if (!response.ok) throw new DemoError('discovery_failed', `Discovery answered ${response.status}`);
    const doc = (await response.json()) as Discovery;
    if (doc.issuer !== window.location.origin) {
      throw new DemoError('wrong_origin', `Open the demo at the issuer's address (${doc.issuer}); its redirect URI is registered there`);
    }
    return doc;
  })().catch((error) => {
    discovery = null;
    throw error;
  });
  return discovery;
}

let jwks: { uri: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;

function keySet(uri: string) {
  if (jwks?.uri !== uri) jwks = { uri, set: createRemoteJWKSet(new URL(uri)) };
  return jwks.set;
}

/**
 * OIDC Core 3.1.3.7: signature against the provider's JWKS, iss, aud, exp (and iat) by jose; then nonce
 * (for the authorization response) and at_hash (when an access token came with it).
 */
export async function verifyIdToken(idToken: string, options: { nonce?: string; accessToken?: string }): Promise<VerifiedIdToken> {
  const doc = await discover();
  const { payload, protectedHeader } = await jwtVerify(idToken, keySet(doc.jwks_uri), {
    issuer: doc.issuer,
    audience: CLIENT_ID,
    algorithms: ['RS256', 'ES256'],
    clockTolerance: 30,
  }).catch((error: unknown) => {
    throw new DemoError('invalid_id_token', `The ID token did not verify: ${error instanceof Error ? error.message : String(error)}`);
  });
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== CLIENT_ID) {
    throw new DemoError('invalid_id_token', 'The ID token has several audiences and azp is not this client');
  }
  if (options.nonce !== undefined && payload.nonce !== options.nonce) throw new DemoError('invalid_id_token', 'The ID token nonce does not match the one sent');
  if (options.accessToken && typeof payload.at_hash === 'string') {
    const digest = await sha256(options.accessToken);
    if (payload.at_hash !== base64url(digest.slice(0, digest.length / 2))) throw new DemoError('invalid_id_token', 'at_hash does not match the access token');
  }
  return { header: protectedHeader, claims: payload as VerifiedIdToken['claims'] };
}

async function tokenRequest(body: Record<string, string>): Promise<Record<string, unknown>> {
  const doc = await discover();
  const response = await fetch(doc.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(body),
    cache: 'no-store',
  });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new DemoError(String(json.error ?? `http_${response.status}`), String(json.error_description ?? `The token endpoint answered ${response.status}`));
  }
  if (typeof json.access_token !== 'string' || String(json.token_type).toLowerCase() !== 'bearer') {
    throw new DemoError('invalid_token_response', 'The token response has no Bearer access token');
  }
  return json;
}

// ---------------------------------------------------------------------------------------------- flow

/** Step 1: PKCE verifier + S256 challenge, state and nonce kept in this tab, then off to the provider. */
export async function startSignIn(): Promise<void> {
  const doc = await discover();
  const codeVerifier = randomString(32);
  const transaction: Transaction = {
    state: randomString(16),
    nonce: randomString(16),
    codeVerifier,
    redirectUri: `${window.location.origin}/demo/callback`,
    createdAt: Date.now(),
  };
  sessionStorage.setItem(TRANSACTION_KEY, JSON.stringify(transaction));
  const url = new URL(doc.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: transaction.redirectUri,
    scope: SCOPE,
    code_challenge: await s256Challenge(codeVerifier),
    code_challenge_method: 'S256',
    state: transaction.state,
    nonce: transaction.nonce,
  }).toString();
  window.location.assign(url.toString());
}

const exchanges = new Map<string, Promise<DemoSession>>();

/**
 * Step 2, on /demo/callback: check the response (error, state, RFC 9207 iss), redeem the code once (a
 * second redemption would revoke the grant, so concurrent calls share one request), verify the ID token.
 */
export function completeSignIn(query: URLSearchParams): Promise<DemoSession> {
  const key = query.get('code') ?? query.get('error') ?? '';
  let pending = exchanges.get(key);
  if (!pending) {
    pending = redeem(query);
    exchanges.set(key, pending);
  }
  return pending;
}

async function redeem(query: URLSearchParams): Promise<DemoSession> {
  const doc = await discover();
  const transaction = readJson<Transaction>(TRANSACTION_KEY);
  if (!transaction) throw new DemoError('no_transaction', 'No sign-in was started in this tab (or it was already completed)');
  sessionStorage.removeItem(TRANSACTION_KEY);
  if (query.get('state') !== transaction.state) throw new DemoError('state_mismatch', 'The state in the response does not match the one this tab sent');
  if (query.get('iss') !== doc.issuer)
    throw new DemoError('issuer_mismatch', `The response came from ${query.get('iss') ?? 'an unnamed issuer'}, not ${doc.issuer}`);
  const error = query.get('error');
  if (error) throw new DemoError(error, query.get('error_description') ?? 'The provider returned an error');
  const code = query.get('code');
  if (!code) throw new DemoError('invalid_response', 'The response has neither a code nor an error');

  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: transaction.redirectUri,
    client_id: CLIENT_ID,
    code_verifier: transaction.codeVerifier,
  });
  if (typeof tokens.id_token !== 'string') throw new DemoError('invalid_token_response', 'No ID token in the response');
  const verified = await verifyIdToken(tokens.id_token, { nonce: transaction.nonce, accessToken: tokens.access_token as string });
  const now = Date.now();
  const session: DemoSession = {
    accessToken: tokens.access_token as string,
    accessTokenExpiresAt: now + Number(tokens.expires_in ?? 0) * 1000,
    refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null,
    idToken: tokens.id_token,
    idTokenVerified: verified,
    scope: String(tokens.scope ?? SCOPE),
    obtainedAt: now,
  };
  saveSession(session);
  return session;
}

/** grant_type=refresh_token: the provider rotates the refresh token; the new ID token must name the same user. */
export async function refreshSession(current: DemoSession): Promise<DemoSession> {
  if (!current.refreshToken) throw new DemoError('no_refresh_token', 'No refresh token was issued (offline_access not granted)');
  const tokens = await tokenRequest({ grant_type: 'refresh_token', refresh_token: current.refreshToken, client_id: CLIENT_ID });
  let idToken = current.idToken;
  let verified = current.idTokenVerified;
  if (typeof tokens.id_token === 'string') {
    verified = await verifyIdToken(tokens.id_token, { accessToken: tokens.access_token as string });
    // OIDC Core 12.2: same iss and sub, same auth_time
    if (verified.claims.sub !== current.idTokenVerified.claims.sub) throw new DemoError('invalid_id_token', 'The refreshed ID token names another user');
    idToken = tokens.id_token;
  }
  const now = Date.now();
  const newRefresh = typeof tokens.refresh_token === 'string' ? tokens.refresh_token : current.refreshToken;
  const next: DemoSession = {
    accessToken: tokens.access_token as string,
    accessTokenExpiresAt: now + Number(tokens.expires_in ?? 0) * 1000,
    refreshToken: newRefresh,
    idToken,
    idTokenVerified: verified,
    scope: String(tokens.scope ?? current.scope),
    obtainedAt: now,
    lastRefresh: {
      at: now,
      refreshTokenChanged: newRefresh !== current.refreshToken,
      accessTokenChanged: tokens.access_token !== current.accessToken,
      previousAccessTokenExpiresAt: current.accessTokenExpiresAt,
    },
  };
  saveSession(next);
  return next;
}

export async function fetchUserinfo(accessToken: string): Promise<Record<string, unknown>> {
  const doc = await discover();
  const response = await fetch(doc.userinfo_endpoint, { headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' }, cache: 'no-store' });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    throw new DemoError(String(json.error ?? `http_${response.status}`), String(json.error_description ?? `UserInfo answered ${response.status}`));
  return json;
}

/** RP-initiated logout: forget the tokens here, then let the provider end its session and send us back. */
export async function startLogout(session: DemoSession): Promise<void> {
  const doc = await discover();
  const state = randomString(16);
  sessionStorage.setItem(LOGOUT_KEY, state);
  clearSession();
  const url = new URL(doc.end_session_endpoint);
  url.search = new URLSearchParams({ id_token_hint: session.idToken, post_logout_redirect_uri: `${window.location.origin}/demo`, state }).toString();
  window.location.assign(url.toString());
}

/** On /demo after logout: true when the state echoed by the provider is the one this tab sent. */
export function consumeLogoutState(state: string): boolean {
  const expected = sessionStorage.getItem(LOGOUT_KEY);
  sessionStorage.removeItem(LOGOUT_KEY);
  return !!expected && expected === state;
}

export function loadSession(): DemoSession | null {
  return readJson<DemoSession>(SESSION_KEY);
}

function saveSession(session: DemoSession): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof DemoError) return { code: error.code, message: error.message };
  return { code: 'unexpected', message: error instanceof Error ? error.message : String(error) };
}
