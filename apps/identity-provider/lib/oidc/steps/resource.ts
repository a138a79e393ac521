import { resourceIdentifierProblem, type OAuthClient, type ResourceServer, type SigningAlg } from '../domain';
import { InvalidScope, InvalidTarget } from '../errors';
import type { Provider, ProviderSettings, ResourceIndex } from '../ports';

/**
 * RFC 8707 resource indicators. A request names zero or more registered resource servers; the access token's
 * `aud` is then their identifiers (and, for an OpenID Connect token, the provider's default audience too, so
 * userinfo keeps working), its alg, lifetime and extra claims theirs. Without `resource` nothing changes:
 * the default audience (the issuer), the client's or the provider's alg, ACCESS_TOKEN_TTL_SECONDS.
 */

/** What an access token is for: everything issueAccessToken needs beyond subject and scope. */
export interface AccessTokenTarget {
  /** Identifiers of the resource servers, sorted; empty for the default audience. */
  resources: readonly string[];
  aud: string | string[];
  alg: SigningAlg;
  ttlSeconds: number;
  /** Claims added by the resource servers (extra claims, Supabase `role`); null when none. */
  claims: Readonly<Record<string, unknown>> | null;
  /** The audit `audience` field: the identifiers joined by a space; null for the default audience. */
  audience: string | null;
}

/**
 * The registered servers behind `identifiers`, each allowed for `client`. Malformed, unknown and
 * not-allowed identifiers are all `invalid_target` (RFC 8707 2), with one description so that a client
 * cannot probe which APIs exist.
 */
export async function resolveResources(
  provider: Provider,
  client: OAuthClient,
  identifiers: readonly string[],
): Promise<{ index: ResourceIndex; resources: ResourceServer[] }> {
  for (const identifier of identifiers) {
    const problem = resourceIdentifierProblem(identifier);
    if (problem) throw new InvalidTarget(`The resource ${problem}`);
  }
  const index = await provider.resources.index(identifiers);
  const resources = identifiers.map((identifier) => {
    const server = index.byIdentifier.get(identifier);
    if (!server || !server.allowedClientIds.includes(client.clientId))
      throw new InvalidTarget('The requested resource is unknown or not allowed for this client');
    return server;
  });
  return { index, resources };
}

/**
 * A scope that a resource server defines may be requested only together with that resource (each API's
 * scopes are its own); other scopes follow the client's registration as before.
 */
export function requireScopesOfRequestedResources(scope: readonly string[], resources: readonly string[], index: ResourceIndex): void {
  const orphans = scope.filter((s) => {
    const owners = index.scopeOwners.get(s);
    return owners !== undefined && !owners.some((owner) => resources.includes(owner));
  });
  if (orphans.length)
    throw new InvalidScope(`These scopes belong to a resource server that was not requested (add its resource parameter): ${orphans.join(' ').slice(0, 256)}`);
}

/** Whether `scope` is an API's (defined by some resource server) rather than the client's own. */
export const isResourceScope = (scope: string, index: ResourceIndex) => index.scopeOwners.has(scope);

/** The scopes of a grant that belong in a token for `resources`: the grant's own, and those of these APIs. */
export function scopesFor(scope: readonly string[], resources: readonly string[], index: ResourceIndex): string[] {
  return scope.filter((s) => {
    const owners = index.scopeOwners.get(s);
    return owners === undefined || owners.some((owner) => resources.includes(owner));
  });
}

/** `resource` at the token endpoint for a grant that already has resources: a subset of them (RFC 8707 2.2). */
export function narrowResources(requested: readonly string[], granted: readonly string[]): string[] {
  if (!requested.length) return [...granted];
  const extra = requested.filter((r) => !granted.includes(r));
  if (extra.length) throw new InvalidTarget('The requested resource was not granted');
  return [...requested];
}

const defaultTargets = new WeakMap<ProviderSettings, Map<SigningAlg, AccessTokenTarget>>();

/** The target of a token without `resource`: the default audience, the client's alg or the provider's. */
export function defaultTarget(settings: ProviderSettings, client: OAuthClient | null): AccessTokenTarget {
  const alg = client?.accessTokenSignedResponseAlg ?? settings.accessTokenAlg;
  let byAlg = defaultTargets.get(settings);
  if (!byAlg) defaultTargets.set(settings, (byAlg = new Map()));
  let target = byAlg.get(alg);
  if (!target) {
    target = { resources: [], aud: settings.accessTokenAudience, alg, ttlSeconds: settings.ttl.accessToken, claims: null, audience: null };
    byAlg.set(alg, target);
  }
  return target;
}

const MAX_MEMOISED_TARGETS = 1000;

/**
 * The target of a token for `resources` (already resolved). Several resources share one token only if they
 * agree on the alg and on every claim they add; the shortest lifetime applies. `withDefaultAudience` adds
 * the issuer to `aud` (OpenID Connect tokens: userinfo accepts them).
 */
export function resourceTarget(
  settings: ProviderSettings,
  index: ResourceIndex,
  resources: readonly ResourceServer[],
  withDefaultAudience: boolean,
): AccessTokenTarget {
  const identifiers = resources.map((r) => r.identifier).sort();
  const key = `${withDefaultAudience ? '+' : '-'}${identifiers.join(' ')}`;
  const memo = index.targets.get(key) as AccessTokenTarget | undefined;
  if (memo) return memo;

  const alg = resources[0].signingAlg;
  if (resources.some((r) => r.signingAlg !== alg))
    throw new InvalidTarget('The requested resources use different signing algorithms: request a token for each');
  const aud = new Set(identifiers);
  const claims: Record<string, unknown> = {};
  const add = (name: string, value: unknown) => {
    if (name in claims && JSON.stringify(claims[name]) !== JSON.stringify(value)) {
      throw new InvalidTarget(`The requested resources disagree on the ${name.slice(0, 64)} claim: request a token for each`);
    }
    claims[name] = value;
  };
  let ttlSeconds = Infinity;
  for (const server of resources) {
    ttlSeconds = Math.min(ttlSeconds, server.accessTokenTtlSeconds ?? settings.ttl.accessToken);
    for (const [name, value] of Object.entries(server.extraClaims)) add(name, value);
    if (server.supabase) {
      add('role', server.supabase.role);
      aud.add(server.supabase.audience);
    }
  }
  if (withDefaultAudience) aud.add(settings.accessTokenAudience);
  const audList = [...aud];
  const target: AccessTokenTarget = {
    resources: identifiers,
    aud: audList.length === 1 ? audList[0] : audList,
    alg,
    ttlSeconds,
    claims: Object.keys(claims).length ? claims : null,
    audience: identifiers.join(' '),
  };
  if (index.targets.size >= MAX_MEMOISED_TARGETS) index.targets.clear();
  index.targets.set(key, target);
  return target;
}

/** Audit fields of an issued token: the top-level `audience` and `details.resources` (only when there are resources). */
export function auditTarget(target: AccessTokenTarget): { audience?: string; resources?: string[] } {
  return target.audience === null ? {} : { audience: target.audience, resources: [...target.resources] };
}
