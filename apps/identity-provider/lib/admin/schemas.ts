import { z } from 'zod';
import { cursorParam } from '../http/cursor';
import { hasControlChars, safeText } from '../security/input';

/**
 * The admin API's inputs and outputs (zod): every route parses its input with one of these and its answer
 * is described by one; `openApiDocument()` (lib/admin/openapi.ts) is generated from them.

 * Lists page with the one keyset cursor of lib/http/cursor.ts.
 */
export const MAX_PAGE = 200;

const limit = z.coerce.number().int().min(1).max(MAX_PAGE).default(50);
const search = safeText(200).optional();

export const pageQuery = z.object({ cursor: cursorParam, limit, q: search });

const uriList = z.array(z.string().max(2000)).max(50);
export const grantTypeSchema = z.enum(['authorization_code', 'refresh_token', 'client_credentials']);
const scopeSchema = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/, 'must be a scope token (RFC 6749 3.3)');

/** confidential: a web server with a secret; spa: a public browser app (PKCE); native: a public app with loopback or private-use redirects. */
export const clientKindSchema = z.enum(['confidential', 'spa', 'native']);

export const clientCreateInput = z.object({
  name: safeText(200),
  kind: clientKindSchema,
  client_id: z
    .string()
    .regex(/^[A-Za-z0-9._~-]{3,100}$/, 'must be 3 to 100 of A-Z a-z 0-9 . _ ~ -')
    .optional(),
  redirect_uris: uriList.default([]),
  post_logout_redirect_uris: uriList.default([]),
  grant_types: z.array(grantTypeSchema).min(1).max(3).optional(),
  scopes: z.array(scopeSchema).min(1).max(50).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post']).optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
  first_party: z.boolean().optional(),
});

export const clientUpdateInput = z.object({
  name: safeText(200).optional(),
  redirect_uris: uriList.optional(),
  post_logout_redirect_uris: uriList.optional(),
  grant_types: z.array(grantTypeSchema).min(1).max(3).optional(),
  scopes: z.array(scopeSchema).min(1).max(50).optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
  first_party: z.boolean().optional(),
});

export const clientIdParam = z.object({
  clientId: z
    .string()
    .min(1)
    .max(200)
    .refine((v) => !hasControlChars(v), 'must not contain control characters'),
});
export const userIdParam = z.object({ userId: z.uuid('must be a UUID') });
export const familyIdParam = z.object({ familyId: z.uuid('must be a UUID') });
export const sessionIdParam = z.object({ sid: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/, 'must be a session id') });
export const eventIdParam = z.object({ eventId: z.uuid('must be a UUID') });

export const rotateSecretInput = z.object({
  grace_seconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0),
});
export const disableInput = z.object({ disabled: z.boolean() });
export const emptyInput = z.object({}).strict();

const roleSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be a role name (lowercase letters, digits, _ and -)');
export const userCreateInput = z.object({
  email: z.email().max(320),
  name: safeText(200).optional(),
  roles: z.array(roleSchema).max(20).default([]),
  /** Without one, a random password is returned once and must be changed at first login. */
  password: z.string().min(12).max(256).optional(),
});
export const userUpdateInput = z.object({
  email: z.email().max(320).optional(),
  name: safeText(200).nullable().optional(),
  roles: z.array(roleSchema).max(20).optional(),
});
export const lockInput = z.object({
  /** Seconds from now; absent: until unlocked. */
  duration_seconds: z
    .number()
    .int()
    .min(60)
    .max(10 * 365 * 86_400)
    .optional(),
});
export const consentParam = z.object({ userId: z.uuid('must be a UUID'), clientId: clientIdParam.shape.clientId });
export const keyRotateInput = z.object({ alg: z.enum(['RS256', 'ES256']), immediate: z.boolean().default(false) });
export const securityQuery = z.object({
  cursor: cursorParam,
  limit,
  kind: z.enum(['all', 'replay', 'reuse', 'suspicious', 'rate_limited', 'lockout', 'client_auth']).default('all'),
});

// outputs
export const problemOutput = z.object({
  error: z.string(),
  message: z.string(),
  /** A 400's parameter at fault (the first issue's). */
  parameter: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  reauth_url: z.string().optional(),
});

export const clientOutput = z.object({
  client_id: z.string(),
  name: z.string(),
  kind: clientKindSchema,
  token_endpoint_auth_method: z.string(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  scopes: z.array(z.string()),
  id_token_signed_response_alg: z.string(),
  first_party: z.boolean(),
  disabled: z.boolean(),
  previous_secret_expires_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const clientSecretOutput = z.object({
  client: clientOutput,
  client_secret: z.string().nullable(),
  previous_secret_expires_at: z.string().nullable().optional(),
});
export const grantCountsOutput = z.object({ live_families: z.number(), live_refresh_tokens: z.number(), consents: z.number() });
export const revokedOutput = z.object({ revoked_refresh_tokens: z.number(), sessions_ended: z.number().optional() });

export const userOutput = z.object({
  id: z.string(),
  email: z.string(),
  email_verified: z.boolean(),
  name: z.string().nullable(),
  roles: z.array(z.string()),
  must_change_password: z.boolean(),
  locked_until: z.string().nullable(),
  locked: z.boolean(),
  created_at: z.string(),
});
export const userCreatedOutput = z.object({ user: userOutput, password: z.string().nullable() });

export const sessionOutput = z.object({
  sid: z.string(),
  user_id: z.string(),
  email: z.string(),
  auth_time: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  last_seen_at: z.string(),
  ip_address: z.string().nullable(),
  /** The sign-in's user agent as "Browser N on OS" (bowser), never the raw header. */
  device: z.string().nullable(),
  amr: z.array(z.string()),
});
export const familyOutput = z.object({
  family_id: z.string(),
  client_id: z.string(),
  user_id: z.string().nullable(),
  email: z.string().nullable(),
  scope: z.array(z.string()),
  created_at: z.string(),
  auth_time: z.string().nullable(),
  revoked_at: z.string().nullable(),
  revoked_reason: z.string().nullable(),
  live_refresh_tokens: z.number(),
  last_refresh_at: z.string().nullable(),
  refresh_expires_at: z.string().nullable(),
});
export const consentOutput = z.object({
  client_id: z.string(),
  client_name: z.string(),
  scopes: z.array(z.string()),
  granted_at: z.string(),
  updated_at: z.string(),
});
export const keyOutput = z.object({
  kid: z.string(),
  alg: z.string(),
  state: z.string(),
  created_at: z.string(),
  activates_at: z.string().nullable(),
  retire_after: z.string().nullable(),
});
export const keyRotateOutput = z.object({
  kid: z.string(),
  alg: z.string(),
  activates_at: z.string(),
  created: z.boolean(),
  replaces_kid: z.string().nullable(),
  replaced_retire_after: z.string().nullable(),
  immediate: z.boolean(),
  breaks: z.string().nullable(),
});
export const auditEntryOutput = z.object({
  id: z.number(),
  event_id: z.string(),
  created_at: z.string(),
  action: z.string(),
  user_id: z.string().nullable(),
  client_id: z.string().nullable(),
  grant_type: z.string().nullable(),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
/** GET /api/admin/audit (JSON pages; the export is a stream). */
export const auditPageOutput = z.object({ entries: z.array(auditEntryOutput), next_cursor: z.string().nullable() });
export const eventDetailOutput = z.object({ event: auditEntryOutput, related: z.array(auditEntryOutput) });

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const overviewOutput = z.object({
  health: z.object({
    database: z.object({ ok: z.boolean(), latency_ms: z.number().nullable(), kind: z.string() }),
    audit_writer: z.object({
      queued: z.number(),
      flush_failures: z.number(),
      spooled_events: z.number(),
      dead_lettered_total: z.number(),
      dead_letters_stored: z.number(),
    }),
    keys: z.array(keyOutput),
  }),
  counts: z.object({
    users: z.number(),
    admins: z.number(),
    locked_users: z.number(),
    clients: z.number(),
    disabled_clients: z.number(),
    active_sessions: z.number(),
    live_families: z.number(),
  }),
  security_events: z.array(auditEntryOutput),
});
