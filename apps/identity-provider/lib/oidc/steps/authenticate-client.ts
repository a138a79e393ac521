import { hash, timingSafeEqual } from 'node:crypto';
import type { OAuthClient } from '../domain';
import { InvalidClient, InvalidRequest } from '../errors';
import type { Provider } from '../ports';
import type { FormParams } from './parse-form';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface AuthenticatedClient {
  client: OAuthClient;
  method: ClientAuthMethod;
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function decodeBasic(header: string): { clientId: string; secret: string } | null {
  const [scheme, value] = header.split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !value) return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    // most ids and secrets are plain: nothing to decode
    const unform = (s: string) => (s.includes('%') || s.includes('+') ? decodeURIComponent(s.replace(/\+/g, ' ')) : s);
    return { clientId: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/**
 * Authenticates the client by exactly one method: client_secret_basic, client_secret_post, or none
 * (public clients, client_id only). The method must be the one the client registered. Secrets are
 * compared as keyed digests in constant time.
 */
export async function authenticateClient(request: Request, params: FormParams, provider: Provider): Promise<AuthenticatedClient> {
  const authorization = request.headers.get('authorization');
  const bodySecret = params.get('client_secret');
  const bodyClientId = params.get('client_id');

  let clientId: string;
  let secret: string | null;
  let method: ClientAuthMethod;
  if (authorization) {
    const basic = decodeBasic(authorization);
    if (!basic) {
      const error = new InvalidClient('The Authorization header is not valid HTTP Basic client authentication');
      error.usedBasic = true;
      error.basicRealm = provider.settings.issuer;
      throw error;
    }
    if (bodySecret) throw new InvalidRequest('Use only one client authentication method');
    if (bodyClientId && bodyClientId !== basic.clientId) throw new InvalidRequest('client_id in the body does not match the authenticated client');
    ({ clientId, secret } = basic);
    method = 'client_secret_basic';
  } else if (bodySecret) {
    if (!bodyClientId) throw new InvalidRequest('client_id is required with client_secret');
    clientId = bodyClientId;
    secret = bodySecret;
    method = 'client_secret_post';
  } else if (bodyClientId) {
    clientId = bodyClientId;
    secret = null;
    method = 'none';
  } else {
    throw new InvalidClient('No client authentication was provided');
  }

  const fail = (description: string) => {
    const error = new InvalidClient(description);
    error.usedBasic = method === 'client_secret_basic';
    if (error.usedBasic) error.basicRealm = provider.settings.issuer;
    return Object.assign(error, { attemptedClientId: clientId });
  };
  const client = await provider.clients.get(clientId);
  if (!client) throw fail('Client authentication failed');
  if (client.tokenEndpointAuthMethod !== method) {
    throw fail(method === 'none' ? 'This client must authenticate' : 'Client authentication failed');
  }
  if (method !== 'none' && !(secret !== null && secretMatches(provider, client, secret))) {
    throw fail('Client authentication failed');
  }
  return { client, method };
}

/**
 * Per client record, the SHA-256 of the last secret that matched its stored keyed digest. A client sends
 * the same secret on every request, and a one-shot SHA-256 costs far less than setting up an HMAC; any other
 * value takes the keyed-digest comparison. Memory only, never the secret itself. The registry replaces the
 * record when the client changes (a new secret), which drops its entry.
 */
const verifiedSecrets = new WeakMap<OAuthClient, Buffer>();

function secretMatches(provider: Provider, client: OAuthClient, secret: string): boolean {
  if (!client.clientSecretHash) return false;
  const presented = hash('sha256', secret, 'buffer') as unknown as Buffer;
  const verified = verifiedSecrets.get(client);
  if (verified && timingSafeEqual(presented, verified)) return true;
  if (!provider.store.box.matchesDigest(secret, client.clientSecretHash)) return previousSecretMatches(provider, client, secret);
  verifiedSecrets.set(client, presented);
  return true;
}

/**
 * During a rotation's grace period the previous secret still authenticates (never remembered in
 * verifiedSecrets: it must stop working the moment the grace period ends).
 */
function previousSecretMatches(provider: Provider, client: OAuthClient, secret: string): boolean {
  if (!client.previousSecretHash || !client.previousSecretExpiresAt) return false;
  if (client.previousSecretExpiresAt.getTime() <= provider.now().getTime()) return false;
  return provider.store.box.matchesDigest(secret, client.previousSecretHash);
}

/**
 * The client_id a request names, authenticated or not (for audit): the Basic user name (as sent when it does
 * not decode as a form value), else the body's. The credentials' client first: a body client_id that differs
 * from them must not put the failure on another client's record. Null when it names none.
 */
export function presentedClientId(request: Request, params: FormParams | undefined): string | null {
  return basicUserName(request.headers.get('authorization')) ?? (params?.get('client_id') || null);
}

function basicUserName(authorization: string | null): string | null {
  if (!authorization) return null;
  const basic = decodeBasic(authorization);
  if (basic) return basic.clientId || null;
  const [scheme, value] = authorization.split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !value) return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : null;
}

/** The client_id an InvalidClient error was about (for audit), if any. */
export function attemptedClientId(error: unknown): string | null {
  return (error as { attemptedClientId?: string })?.attemptedClientId ?? null;
}
