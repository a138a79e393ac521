import { describeUserAgent } from '../account/user-agent';
import { scheduleKeyRotation } from '../oidc/key-rotation';
import { checkPasswordPolicy } from '../security/password-policy';
import { randomBytes } from 'node:crypto';
import {
  ClientNotFoundError,
  DuplicateClientError,
  DuplicateEmailError,
  INDEFINITE_LOCK,
  UserNotFoundError,
  type AuditEntry,
  type GrantType,
  type IdentityStore,
  type Keyset,
  type OAuthClient,
  type SigningKey,
  type TokenFamilyEntry,
  type User,
} from '@idp/database-identity';
import type { Container } from '../container';
import type { AuditSink } from '../oidc/ports';
import { redirectUriProblem } from '../oidc/redirect-uris';
import type { z } from 'zod';
import { encodeCursor, type Cursor } from '../http/cursor';
import { type clientCreateInput, type clientUpdateInput, type userCreateInput, type userUpdateInput } from './schemas';

/**
 * The admin console's one service layer: the API routes, the pages and the CLI socket all go through it.
 * Every change is audited as `admin.<object>.<verb>` naming the acting admin (`admin_id`) and the target
 * (`target_id`); details carry ids and counts, never secrets.
 */

/** A refusal the caller can act on; the route wrapper maps it to its status and error code. */
export class AdminError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409,
    readonly code: string,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface Actor {
  /** The admin's user id, or `cli` for the local admin socket. */
  id: string;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

type Deps = Pick<Container, 'store' | 'config' | 'audit' | 'keyRotation'> & { provider: Pick<Container['provider'], 'audit' | 'settings' | 'clients'> };

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const toKeyset = (c: Cursor | null | undefined): Keyset | null => (c && typeof c.key === 'string' ? { at: new Date(c.at), key: c.key } : null);
const nextCursor = (k: Keyset | null) => (k ? encodeCursor(k.at, k.key) : null);

export const clientKind = (c: OAuthClient) =>
  (c.tokenEndpointAuthMethod !== 'none'
    ? 'confidential'
    : c.redirectUris.some((u) => /^https?:/.test(u) && !/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(u))
      ? 'spa'
      : c.redirectUris.length
        ? 'native'
        : 'spa') as 'confidential' | 'spa' | 'native';

export const clientJson = (c: OAuthClient) => ({
  client_id: c.clientId,
  name: c.name,
  kind: clientKind(c),
  token_endpoint_auth_method: c.tokenEndpointAuthMethod,
  redirect_uris: c.redirectUris,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  grant_types: c.grantTypes,
  scopes: c.scopes,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg,
  first_party: c.firstParty,
  disabled: !!c.disabledAt,
  previous_secret_expires_at: c.previousSecretExpiresAt && c.previousSecretExpiresAt > new Date() ? iso(c.previousSecretExpiresAt) : null,
  created_at: c.createdAt.toISOString(),
  updated_at: c.updatedAt.toISOString(),
});

export const userJson = (u: User) => ({
  id: u.id,
  email: u.email,
  email_verified: u.emailVerified,
  name: u.name,
  roles: u.roles,
  must_change_password: u.mustChangePassword,
  locked_until: iso(u.lockedUntil),
  locked: !!u.lockedUntil && u.lockedUntil > new Date(),
  created_at: u.createdAt.toISOString(),
});

export const familyJson = (f: TokenFamilyEntry) => ({
  family_id: f.familyId,
  client_id: f.clientId,
  user_id: f.userId,
  email: f.email,
  scope: f.scope,
  created_at: f.createdAt.toISOString(),
  auth_time: iso(f.authTime),
  revoked_at: iso(f.revokedAt),
  revoked_reason: f.revokedReason,
  live_refresh_tokens: f.liveRefreshTokens,
  last_refresh_at: iso(f.lastRefreshAt),
  refresh_expires_at: iso(f.refreshExpiresAt),
});

export const keyJson = (k: SigningKey) => ({
  kid: k.kid,
  alg: k.alg,
  state: String(k.state),
  created_at: k.createdAt.toISOString(),
  activates_at: iso(k.activatesAt),
  retire_after: iso(k.retireAfter),
});

export const auditJson = (e: AuditEntry) => ({
  id: e.id,
  event_id: e.eventId,
  created_at: e.createdAt.toISOString(),
  action: e.action,
  user_id: e.userId,
  client_id: e.clientId,
  grant_type: e.grantType,
  ip_address: e.ipAddress,
  user_agent: e.userAgent,
  request_id: e.requestId,
  details: e.details ?? {},
});

const SECURITY_KINDS: Record<string, readonly string[] | undefined> = {
  all: undefined,
  replay: ['token.code_replayed'],
  reuse: ['token.refresh_reused'],
  suspicious: ['security.suspicious'],
  rate_limited: ['security.rate_limited'],
  lockout: ['auth.account_locked'],
  client_auth: ['client.auth_failed'],
};

export function adminService(deps: Deps, actor: Actor) {
  const store: IdentityStore = deps.store;
  const sink: AuditSink = deps.provider.audit;
  const audit = (
    action: `admin.${string}`,
    target: { type: string; id: string; clientId?: string | null; userId?: string | null },
    details: Record<string, unknown> = {},
  ) =>
    sink.record({
      action,
      clientId: target.clientId ?? null,
      userId: target.userId ?? null,
      ip: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
      requestId: actor.requestId ?? null,
      details: { admin_id: actor.id, target_type: target.type, target_id: target.id, ...details },
    });
  /** Registry changes are picked up by the next poll anyway; this process sees them at once. */
  const changedClients = () => (deps.provider.clients as { invalidate?: () => void }).invalidate?.();

  const checkUris = (uris: string[], field: string) => {
    const issues = uris
      .map((u, i) => ({ path: `${field}.${i}`, message: redirectUriProblem(u, { production: deps.config.production }) }))
      .filter((x): x is { path: string; message: string } => !!x.message);
    if (issues.length) throw new AdminError(400, 'invalid_request', `${field}: ${issues[0].message}`, issues);
  };

  const mustFindClient = async (clientId: string) => {
    const client = await store.clients.find(clientId);
    if (!client) throw new AdminError(404, 'not_found', 'No such client');
    return client;
  };
  const mustFindUser = async (userId: string) => {
    const user = await store.users.findById(userId);
    if (!user) throw new AdminError(404, 'not_found', 'No such user');
    return user;
  };
  const notFound = (error: unknown): never => {
    if (error instanceof ClientNotFoundError) throw new AdminError(404, 'not_found', 'No such client');
    if (error instanceof UserNotFoundError) throw new AdminError(404, 'not_found', 'No such user');
    throw error;
  };

  return {
    async overview() {
      const started = Date.now();
      let dbOk = true;
      try {
        await store.db.query('select 1');
      } catch {
        dbOk = false;
      }
      const latency = Date.now() - started;
      const [counts, keys, deadLetters, security] = await Promise.all([
        store.admin.counts(),
        store.keys.list(),
        store.admin.audit.deadLetters(5),
        store.admin.audit.security({ limit: 10 }),
      ]);
      const stats = deps.audit.stats();
      return {
        health: {
          database: { ok: dbOk, latency_ms: dbOk ? latency : null, kind: store.db.kind },
          audit_writer: {
            queued: stats.queued,
            flush_failures: stats.flushFailures,
            spooled_events: stats.spooledEvents,
            dead_lettered_total: stats.deadLettered,
            dead_letters_stored: deadLetters.total,
          },
          keys: keys.filter((k) => k.state !== 'retired').map(keyJson),
        },
        counts: {
          users: counts.users,
          admins: counts.admins,
          locked_users: counts.lockedUsers,
          clients: counts.clients,
          disabled_clients: counts.disabledClients,
          active_sessions: counts.activeSessions,
          live_families: counts.liveFamilies,
        },
        security_events: security.entries.map(auditJson),
        dead_letters: deadLetters.recent.map((d) => ({
          id: d.id,
          event_id: d.eventId,
          action: d.action,
          error_code: d.errorCode,
          error_message: d.errorMessage,
          failures: d.failures,
          first_failed_at: d.firstFailedAt.toISOString(),
        })),
      };
    },

    // clients
    async listClients(q: { cursor: Cursor | null; limit: number; q?: string }) {
      const page = await store.admin.clients.page({ cursor: toKeyset(q.cursor), limit: q.limit, search: q.q });
      return { items: page.items.map(clientJson), next_cursor: nextCursor(page.next) };
    },

    async getClient(clientId: string) {
      const client = await mustFindClient(clientId);
      const counts = await store.admin.clients.grantCounts(clientId);
      return {
        client: clientJson(client),
        counts: { live_families: counts.liveFamilies, live_refresh_tokens: counts.liveRefreshTokens, consents: counts.consents },
      };
    },

    async createClient(input: z.infer<typeof clientCreateInput>) {
      checkUris(input.redirect_uris, 'redirect_uris');
      checkUris(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
      const confidential = input.kind === 'confidential';
      const grants: GrantType[] = input.grant_types ?? (confidential ? ['authorization_code', 'refresh_token'] : ['authorization_code', 'refresh_token']);
      if (!confidential && grants.includes('client_credentials'))
        throw new AdminError(400, 'invalid_request', 'grant_types: a public client cannot use client_credentials', [
          { path: 'grant_types', message: 'client_credentials needs a confidential client' },
        ]);
      if (grants.includes('authorization_code') && input.redirect_uris.length === 0)
        throw new AdminError(400, 'invalid_request', 'redirect_uris: authorization_code needs at least one redirect URI', [
          { path: 'redirect_uris', message: 'at least one is required' },
        ]);
      if (input.kind === 'native') {
        // RFC 8252: loopback or private-use scheme (or claimed https) redirects
        for (const [i, uri] of input.redirect_uris.entries()) {
          const url = new URL(uri);
          if (url.protocol === 'http:' && !['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname))
            throw new AdminError(400, 'invalid_request', `redirect_uris.${i}: a native app redirects to a loopback address, a private-use scheme or https`, [
              { path: `redirect_uris.${i}`, message: 'not a native-app redirect (RFC 8252)' },
            ]);
        }
      }
      try {
        const { client, clientSecret } = await store.clients.create({
          clientId: input.client_id,
          name: input.name,
          redirectUris: input.redirect_uris,
          postLogoutRedirectUris: input.post_logout_redirect_uris,
          grantTypes: grants,
          scopes: input.scopes,
          tokenEndpointAuthMethod: confidential ? (input.token_endpoint_auth_method ?? 'client_secret_basic') : 'none',
          idTokenSignedResponseAlg: input.id_token_signed_response_alg,
          firstParty: input.first_party,
        });
        changedClients();
        audit('admin.client.created', { type: 'client', id: client.clientId, clientId: client.clientId }, { kind: input.kind });
        return { client: clientJson(client), client_secret: clientSecret };
      } catch (error) {
        if (error instanceof DuplicateClientError) throw new AdminError(409, 'conflict', 'A client with this client_id exists');
        throw error;
      }
    },

    async updateClient(clientId: string, input: z.infer<typeof clientUpdateInput>) {
      const current = await mustFindClient(clientId);
      if (input.redirect_uris) checkUris(input.redirect_uris, 'redirect_uris');
      if (input.post_logout_redirect_uris) checkUris(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
      if (current.tokenEndpointAuthMethod === 'none' && input.grant_types?.includes('client_credentials'))
        throw new AdminError(400, 'invalid_request', 'grant_types: a public client cannot use client_credentials');
      const client = await store.admin.clients
        .update(clientId, {
          name: input.name,
          redirectUris: input.redirect_uris,
          postLogoutRedirectUris: input.post_logout_redirect_uris,
          grantTypes: input.grant_types,
          scopes: input.scopes,
          idTokenSignedResponseAlg: input.id_token_signed_response_alg,
          firstParty: input.first_party,
        })
        .catch(notFound);
      changedClients();
      audit(
        'admin.client.updated',
        { type: 'client', id: clientId, clientId },
        { fields: Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined) },
      );
      return { client: clientJson(client) };
    },

    async setClientDisabled(clientId: string, disabled: boolean) {
      const { client, revokedRefreshTokens } = await store.admin.clients.setDisabled(clientId, disabled).catch(notFound);
      changedClients();
      audit(
        disabled ? 'admin.client.disabled' : 'admin.client.enabled',
        { type: 'client', id: clientId, clientId },
        { revoked_refresh_tokens: revokedRefreshTokens },
      );
      return { client: clientJson(client), revoked_refresh_tokens: revokedRefreshTokens };
    },

    async deleteClient(clientId: string) {
      const { revokedRefreshTokens } = await store.admin.clients.delete(clientId).catch(notFound);
      changedClients();
      audit('admin.client.deleted', { type: 'client', id: clientId, clientId }, { revoked_refresh_tokens: revokedRefreshTokens });
      return { revoked_refresh_tokens: revokedRefreshTokens };
    },

    async rotateClientSecret(clientId: string, graceSeconds: number) {
      const current = await mustFindClient(clientId);
      if (current.tokenEndpointAuthMethod === 'none') throw new AdminError(400, 'invalid_request', 'A public client has no secret');
      const { client, clientSecret } = await store.admin.clients.rotateSecret(clientId, graceSeconds).catch(notFound);
      changedClients();
      audit(
        'admin.client.secret_rotated',
        { type: 'client', id: clientId, clientId },
        { grace_seconds: graceSeconds, previous_secret_expires_at: iso(client.previousSecretExpiresAt) },
      );
      return { client: clientJson(client), client_secret: clientSecret, previous_secret_expires_at: iso(client.previousSecretExpiresAt) };
    },

    async clientFamilies(clientId: string, q: { cursor: Cursor | null; limit: number }) {
      const page = await store.admin.clients.families(clientId, { cursor: toKeyset(q.cursor), limit: q.limit });
      return { items: page.items.map(familyJson), next_cursor: nextCursor(page.next) };
    },

    /** The client's failures of the last `days`, by action and reason (from the audit trail). */
    async clientFailures(clientId: string, days = 7) {
      const since = new Date(Date.now() - days * 86_400_000);
      const counts = new Map<string, number>();
      let scanned = 0;
      for (const action of [
        'token.validation_failed',
        'token.code_invalid',
        'token.code_replayed',
        'token.pkce_failed',
        'token.refresh_reused',
        'token.expired',
        'client.auth_failed',
        'security.rate_limited',
      ]) {
        // bounded: at most 500 rows per action are looked at
        const { entries } = await store.auditLog.search({ clientId, action, start: since }, null, 500);
        scanned += entries.length;
        for (const e of entries) {
          const reason = typeof e.details?.reason === 'string' ? e.details.reason : typeof e.details?.error === 'string' ? e.details.error : '-';
          const key = `${action}\u0000${reason}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      return {
        since: since.toISOString(),
        scanned,
        items: [...counts].map(([k, n]) => ({ action: k.split('\u0000')[0], reason: k.split('\u0000')[1], count: n })).sort((a, b) => b.count - a.count),
      };
    },

    async revokeFamily(familyId: string) {
      const family = await store.admin.families.find(familyId);
      if (!family) throw new AdminError(404, 'not_found', 'No such token family');
      const revoked = await store.grants.revokeFamily(familyId, 'admin_revoked');
      audit(
        'admin.family.revoked',
        { type: 'token_family', id: familyId, clientId: family.clientId, userId: family.userId },
        { revoked_refresh_tokens: revoked },
      );
      return { revoked_refresh_tokens: revoked };
    },

    // users
    async listUsers(q: { cursor: Cursor | null; limit: number; q?: string }) {
      const page = await store.admin.users.page({ cursor: toKeyset(q.cursor), limit: q.limit, search: q.q });
      return { items: page.items.map(userJson), next_cursor: nextCursor(page.next) };
    },

    async getUser(userId: string) {
      const user = await mustFindUser(userId);
      const counts = await store.admin.users.grantCounts(userId);
      return { user: userJson(user), counts: { live_families: counts.liveFamilies, live_refresh_tokens: counts.liveRefreshTokens, consents: counts.consents } };
    },

    async createUser(input: z.infer<typeof userCreateInput>) {
      const generated = !input.password;
      if (input.password) {
        const policy = await checkPasswordPolicy(input.password, { minLength: deps.config.passwordMinLength, email: input.email, name: input.name });
        if (!policy.ok) throw new AdminError(400, 'invalid_request', `password: ${policy.message}`);
      }
      const password = input.password ?? randomBytes(18).toString('base64url');
      try {
        const user = await store.users.create({ email: input.email, password, name: input.name, roles: input.roles, mustChangePassword: generated });
        audit('admin.user.created', { type: 'user', id: user.id, userId: user.id }, { roles: user.roles });
        return { user: userJson(user), password: generated ? password : null };
      } catch (error) {
        if (error instanceof DuplicateEmailError) throw new AdminError(409, 'conflict', 'A user with this email exists');
        throw error;
      }
    },

    async updateUser(userId: string, input: z.infer<typeof userUpdateInput>) {
      const before = await mustFindUser(userId);
      if (input.roles && before.roles.includes('admin') && !input.roles.includes('admin') && (await store.users.countAdmins()) <= 1) {
        throw new AdminError(409, 'conflict', 'This is the last administrator: give another user the admin role first');
      }
      try {
        const user = await store.admin.users.update(userId, { email: input.email, name: input.name, roles: input.roles }).catch(notFound);
        audit(
          'admin.user.updated',
          { type: 'user', id: userId, userId },
          { fields: Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined), roles: user.roles },
        );
        return { user: userJson(user) };
      } catch (error) {
        if (error instanceof DuplicateEmailError) throw new AdminError(409, 'conflict', 'A user with this email exists');
        throw error;
      }
    },

    async lockUser(userId: string, durationSeconds?: number) {
      if (userId === actor.id) throw new AdminError(409, 'conflict', 'You cannot lock yourself out');
      const until = durationSeconds ? new Date(Date.now() + durationSeconds * 1000) : INDEFINITE_LOCK;
      const result = await store.admin.users.lock(userId, until).catch(notFound);
      audit(
        'admin.user.locked',
        { type: 'user', id: userId, userId },
        { locked_until: until.toISOString(), sessions_ended: result.sessionsEnded, revoked_refresh_tokens: result.revokedRefreshTokens },
      );
      return { user: userJson(result.user), sessions_ended: result.sessionsEnded, revoked_refresh_tokens: result.revokedRefreshTokens };
    },

    async unlockUser(userId: string) {
      const user = await store.admin.users.unlock(userId).catch(notFound);
      audit('admin.user.unlocked', { type: 'user', id: userId, userId });
      return { user: userJson(user) };
    },

    async forcePasswordChange(userId: string) {
      const user = await store.admin.users.forcePasswordChange(userId).catch(notFound);
      audit('admin.user.password_change_forced', { type: 'user', id: userId, userId });
      return { user: userJson(user) };
    },

    async deleteUser(userId: string) {
      const user = await mustFindUser(userId);
      if (userId === actor.id) throw new AdminError(409, 'conflict', 'You cannot delete yourself');
      if (user.roles.includes('admin') && (await store.users.countAdmins()) <= 1) throw new AdminError(409, 'conflict', 'This is the last administrator');
      const { revokedRefreshTokens } = await store.admin.users.delete(userId).catch(notFound);
      audit('admin.user.deleted', { type: 'user', id: userId, userId }, { revoked_refresh_tokens: revokedRefreshTokens });
      return { revoked_refresh_tokens: revokedRefreshTokens };
    },

    async userFamilies(userId: string, q: { cursor: Cursor | null; limit: number }) {
      const page = await store.admin.users.families(userId, { cursor: toKeyset(q.cursor), limit: q.limit });
      return { items: page.items.map(familyJson), next_cursor: nextCursor(page.next) };
    },

    async userConsents(userId: string) {
      const items = await store.admin.users.consents(userId);
      return {
        items: items.map((c) => ({
          client_id: c.clientId,
          client_name: c.clientName,
          scopes: c.scopes,
          granted_at: c.grantedAt.toISOString(),
          updated_at: c.updatedAt.toISOString(),
        })),
      };
    },

    async revokeConsent(userId: string, clientId: string) {
      const result = await store.admin.users.revokeConsent(userId, clientId);
      if (!result.consentRemoved && result.revokedRefreshTokens === 0) throw new AdminError(404, 'not_found', 'No such consent');
      audit(
        'admin.consent.revoked',
        { type: 'consent', id: `${userId}:${clientId}`, userId, clientId },
        { revoked_refresh_tokens: result.revokedRefreshTokens },
      );
      return { revoked_refresh_tokens: result.revokedRefreshTokens };
    },

    /** The user's security-relevant events (sign-ins with IP and user agent, lockouts, reuse), newest first. */
    async userEvents(userId: string, q: { cursor: Cursor | null; limit: number }) {
      const cursor = q.cursor && typeof q.cursor.key === 'number' ? { createdAt: new Date(q.cursor.at), id: q.cursor.key } : null;
      const { entries, next } = await store.auditLog.search({ userId }, cursor, q.limit);
      return { items: entries.map(auditJson), next_cursor: next ? encodeCursor(next.createdAt, next.id) : null };
    },

    // sessions
    async listSessions(q: { cursor: Cursor | null; limit: number; q?: string; userId?: string }) {
      const page = await store.admin.sessions.page({ cursor: toKeyset(q.cursor), limit: q.limit, search: q.q, userId: q.userId });
      return {
        items: page.items.map((s) => ({
          sid: s.sid,
          user_id: s.userId,
          email: s.email,
          auth_time: s.authTime.toISOString(),
          created_at: s.createdAt.toISOString(),
          expires_at: s.expiresAt.toISOString(),
          last_seen_at: s.lastSeenAt.toISOString(),
          ip_address: s.ipAddress,
          device: describeUserAgent(s.userAgent).label,
          amr: s.amr,
        })),
        next_cursor: nextCursor(page.next),
      };
    },

    async endSession(sid: string) {
      const session = await store.admin.sessions.find(sid);
      if (!session) throw new AdminError(404, 'not_found', 'No such active session');
      await store.sessions.revoke(sid);
      // the sid itself is a bearer value inside the sealed cookie: audited by a digest prefix, not the value
      audit('admin.session.ended', { type: 'session', id: store.box.digest(`sid:${sid}`).slice(0, 16), userId: session.userId });
      return { sessions_ended: 1 };
    },

    async endUserSessions(userId: string) {
      await mustFindUser(userId);
      const ended = await store.sessions.revokeOthersOfUser(userId, null);
      audit('admin.user.sessions_ended', { type: 'user', id: userId, userId }, { sessions_ended: ended });
      return { sessions_ended: ended };
    },

    // keys
    async listKeys() {
      const { keepPublishedSeconds, publishAheadSeconds } = deps.config.signingKeys;
      return { items: (await store.keys.list()).map(keyJson), keep_published_seconds: keepPublishedSeconds, publish_ahead_seconds: publishAheadSeconds };
    },

    /**
     * Schedules a successor (published now, signing after JWKS max-age + margin on every instance), or with
     * `immediate` makes it sign now: verifiers with a cached JWKS then reject new tokens until they refetch.
     */
    async rotateKey(alg: 'RS256' | 'ES256', immediate = false) {
      const outcome = await scheduleKeyRotation(deps.keyRotation, {
        alg,
        immediate,
        actor: { userId: actor.id === 'cli' ? null : actor.id, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, requestId: actor.requestId ?? null },
      });
      audit('admin.key.rotated', { type: 'signing_key', id: outcome.kid }, { alg, immediate, replaces_kid: outcome.replacesKid });
      return {
        kid: outcome.kid,
        alg,
        activates_at: outcome.activatesAt.toISOString(),
        created: outcome.created,
        replaces_kid: outcome.replacesKid,
        replaced_retire_after: iso(outcome.replacedRetireAfter),
        immediate,
        breaks: outcome.breaks,
      };
    },

    // audit trail and security events
    async securityEvents(q: { cursor: Cursor | null; limit: number; kind: string }) {
      const cursor = q.cursor && typeof q.cursor.key === 'number' ? { createdAt: new Date(q.cursor.at), id: q.cursor.key } : null;
      const { entries, next } = await store.admin.audit.security({ cursor, limit: q.limit, actions: SECURITY_KINDS[q.kind] });
      return { items: entries.map(auditJson), next_cursor: next ? encodeCursor(next.createdAt, next.id) : null };
    },

    async deadLetters(limit = 20) {
      return store.admin.audit.deadLetters(limit);
    },

    async auditEvent(eventId: string) {
      const event = await store.admin.audit.findByEventId(eventId);
      if (!event) throw new AdminError(404, 'not_found', 'No such audit event');
      const related = await store.admin.audit.related(event);
      return { event: auditJson(event), related: related.map(auditJson) };
    },
  };
}

export type AdminService = ReturnType<typeof adminService>;
