import { z } from 'zod';
import type { AuditCursor, AuditEntry } from '@idp/database-identity';
import { changePassword, MAX_PASSWORD_LENGTH } from '../oidc/password-change';
import { encodeCursor, rowCursorParam } from '../http/cursor';
import { hasControlChars } from '../security/input';
import { AccountError, type AccountContext } from './route';
import { describeUserAgent } from './user-agent';

/**
 * What the account page does, over the data layer: profile, password, sessions, connected apps and
 * security activity. Each function takes the authenticated AccountContext (lib/account/route.ts) and
 * input already validated by the schemas below.
 */

// --- inputs ------------------------------------------------------------------------------------------

const SESSION_HANDLE = /^[A-Za-z0-9_-]{32}$/;
const ACTIVITY_PAGE = 20;

export const profileInput = z
  .object({
    name: z
      .string()
      .max(200, 'must be at most 200 characters')
      .refine((v) => !hasControlChars(v), 'must not contain control characters')
      .transform((v) => v.trim()),
  })
  .strict();

export const passwordInput = z
  .object({
    current_password: z.string().max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`),
    new_password: z.string().max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`),
    confirm_password: z.string().max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`),
  })
  .strict();

export const endSessionInput = z.union(
  [
    z.object({ session_id: z.string().regex(SESSION_HANDLE, 'must be a session id from this API') }).strict(),
    z.object({ all_others: z.literal(true) }).strict(),
  ],
  { message: 'must name a session_id, or all_others: true' },
);

export const revokeAppInput = z
  .object({
    client_id: z
      .string()
      .min(1, 'must not be empty')
      .max(200, 'must be at most 200 characters')
      .refine((v) => !hasControlChars(v), 'must not contain control characters'),
  })
  .strict();

export const noInput = z.object({}).passthrough();

export const activityInput = z.object({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(100, 'must be at most 100').default(ACTIVITY_PAGE),
  cursor: rowCursorParam.transform((c) => (c ? ({ createdAt: new Date(c.at), id: c.id } satisfies AuditCursor) : null)),
});

// --- profile and password ----------------------------------------------------------------------------

export function profileJson(user: AccountContext['user']) {
  return { id: user.id, email: user.email, email_verified: user.emailVerified, name: user.name, created_at: user.createdAt.toISOString() };
}

export async function updateProfile(account: AccountContext, input: z.infer<typeof profileInput>) {
  const updated = await account.provider.store.users.updateProfile(account.user.id, { name: input.name || null });
  if (!updated) throw new AccountError(401, 'unauthenticated', 'Sign in to manage your account');
  audit(account, 'auth.profile_updated', { fields: ['name'] });
  return { profile: profileJson(updated) };
}

const PASSWORD_REFUSALS = {
  current: ['current_password', 'The current password is incorrect'],
  length: ['new_password', 'The new password is too short or too long'],
  weak: ['new_password', 'The new password is too easy to guess: a few unrelated words make a strong one'],
  mismatch: ['confirm_password', 'The two new passwords do not match'],
  reused: ['new_password', 'The new password must differ from the current one'],
} as const;

/** The password change of the /password form (changePassword), with the current password always asked. */
export async function updatePassword(account: AccountContext, input: z.infer<typeof passwordInput>) {
  const outcome = await changePassword(account.provider, account.ctx, {
    session: account.session,
    currentPassword: input.current_password,
    newPassword: input.new_password,
    confirmPassword: input.confirm_password,
    alwaysAskCurrent: true,
  });
  if (outcome.status === 'no_user') throw new AccountError(401, 'unauthenticated', 'Sign in to manage your account');
  if (outcome.status === 'rate_limited') {
    throw new AccountError(429, 'rate_limited', 'Too many password changes. Wait a few minutes and try again', undefined, outcome.error.headers);
  }
  if (outcome.status === 'refused') {
    const [parameter, message] = PASSWORD_REFUSALS[outcome.reason];
    throw new AccountError(400, `password_${outcome.reason}`, message, parameter);
  }
  return { sessions_ended: outcome.sessionsEnded, refresh_tokens_revoked: outcome.refreshTokensRevoked };
}

// --- sessions ----------------------------------------------------------------------------------------

/** The id a session has on the account page: a keyed digest, so the page never holds a raw sid. */
const sessionHandle = (account: AccountContext, sid: string) => account.provider.store.box.digest(`account-session:${sid}`).slice(0, 32);

const MAX_SESSIONS = 200;

export async function listSessions(account: AccountContext) {
  const sessions = await account.provider.store.sessions.listActiveOfUser(account.user.id, MAX_SESSIONS);
  return {
    sessions: sessions.map((s) => {
      const device = describeUserAgent(s.userAgent);
      return {
        id: sessionHandle(account, s.sid),
        current: s.sid === account.session.sid,
        browser: device.label,
        device_type: device.type,
        ip_address: s.ipAddress,
        signed_in_at: s.authTime.toISOString(),
        last_seen_at: s.lastSeenAt.toISOString(),
        expires_at: s.expiresAt.toISOString(),
      };
    }),
  };
}

/** Ends one other session (by its handle) or all others; this one ends with Sign out. */
export async function endSessions(account: AccountContext, input: z.infer<typeof endSessionInput>) {
  const { store } = account.provider;
  if ('all_others' in input) {
    const ended = await store.sessions.revokeOthersOfUser(account.user.id, account.session.sid);
    audit(account, 'auth.session_ended', { scope: 'all_others', sessions_ended: ended });
    return { sessions_ended: ended };
  }
  const target = (await store.sessions.listActiveOfUser(account.user.id, MAX_SESSIONS)).find((s) => sessionHandle(account, s.sid) === input.session_id);
  if (!target) throw new AccountError(404, 'not_found', 'That session has already ended', 'session_id');
  if (target.sid === account.session.sid) throw new AccountError(400, 'current_session', 'Use Sign out to end the session on this device', 'session_id');
  const ended = await store.sessions.revokeOfUser(account.user.id, target.sid);
  audit(account, 'auth.session_ended', { scope: 'one', sessions_ended: ended ? 1 : 0 });
  return { sessions_ended: ended ? 1 : 0 };
}

// --- connected apps ----------------------------------------------------------------------------------

export async function listApps(account: AccountContext) {
  const apps = await account.provider.store.grants.connectedApps(account.user.id);
  return {
    apps: apps.map((a) => ({
      client_id: a.clientId,
      name: a.name,
      first_party: a.firstParty,
      scopes: [...new Set([...a.consentScopes, ...a.tokenScopes])].sort(),
      consented_at: a.consentedAt?.toISOString() ?? null,
      last_used_at: a.lastUsedAt?.toISOString() ?? null,
      refresh_tokens: a.refreshTokens,
    })),
  };
}

/** Disconnects an app: its consent is forgotten and every grant (refresh and access tokens) is revoked. */
export async function revokeApp(account: AccountContext, input: z.infer<typeof revokeAppInput>) {
  const result = await account.provider.store.grants.revokeClientForUser(account.user.id, input.client_id, 'user_revoked_app');
  if (!result.consentRemoved && result.refreshTokensRevoked === 0) {
    // nothing to remove is not an error for an idempotent action, but an unknown id is worth saying
    const known = await account.provider.clients.get(input.client_id);
    if (!known) throw new AccountError(404, 'not_found', 'No such app', 'client_id');
  }
  audit(account, 'auth.app_revoked', { consent_removed: result.consentRemoved, refresh_tokens_revoked: result.refreshTokensRevoked }, input.client_id);
  return { consent_removed: result.consentRemoved, refresh_tokens_revoked: result.refreshTokensRevoked };
}

// --- security activity -------------------------------------------------------------------------------

/** The events the account page lists: sign-ins and their failures, lockouts, password and account changes, alarms. */
export const SECURITY_ACTIONS = ['auth.*', 'security.suspicious', 'token.refresh_reused', 'token.code_replayed'];

/** Detail fields safe to show their owner: reasons and counts, never digests, ids of other things or values. */
const SHOWN_DETAILS = new Set(['reason', 'scope', 'sessions_ended', 'refresh_tokens_revoked', 'forced', 'consent_removed', 'kind']);

function activityItem(entry: AuditEntry, clientNames: Map<string, string>) {
  const details: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(entry.details ?? {})) {
    if (!SHOWN_DETAILS.has(key)) continue;
    if (typeof value === 'number' || typeof value === 'boolean') details[key] = value;
    else if (typeof value === 'string' && /^[a-z0-9_.-]{1,64}$/.test(value)) details[key] = value;
  }
  return {
    id: String(entry.id),
    created_at: entry.createdAt.toISOString(),
    action: entry.action,
    client_id: entry.clientId,
    client_name: entry.clientId ? (clientNames.get(entry.clientId) ?? null) : null,
    ip_address: entry.ipAddress,
    browser: describeUserAgent(entry.userAgent).label,
    details,
  };
}

export async function listActivity(account: AccountContext, input: z.infer<typeof activityInput>) {
  const { provider } = account;
  const page = await provider.store.auditLog.search({ userId: account.user.id, actions: SECURITY_ACTIONS }, input.cursor, input.limit);
  const names = new Map<string, string>();
  for (const id of new Set(page.entries.map((e) => e.clientId).filter((c): c is string => !!c))) {
    const client = await provider.clients.get(id);
    if (client) names.set(id, client.name);
  }
  return { entries: page.entries.map((e) => activityItem(e, names)), next_cursor: page.next ? encodeCursor(page.next.createdAt, page.next.id) : null };
}

function audit(
  account: AccountContext,
  action: 'auth.session_ended' | 'auth.app_revoked' | 'auth.profile_updated',
  details: Record<string, unknown>,
  clientId: string | null = null,
) {
  const { ctx } = account;
  account.provider.audit.record({ action, userId: account.user.id, clientId, ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId, details });
}
