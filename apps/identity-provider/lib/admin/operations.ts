import { z } from 'zod';
import { auditQuery } from './audit-api';
import type { RouteSpec } from './route';
import * as s from './schemas';

/**
 * Every /api/admin/* operation in one table: the route files hand their entry to adminRoute (which parses
 * path and input and checks the answer with it) and openApiDocument() describes the API from the same
 * entries, so a route and its documentation cannot disagree.
 */
export interface AdminOperation<P extends z.ZodType, I extends z.ZodType> extends RouteSpec<P, I> {
  method: 'get' | 'post';
  /** OpenAPI path: `{name}` for each of `params`. */
  path: string;
  summary: string;
}

type NoInput = z.ZodObject<Record<string, never>>;
const op = <P extends z.ZodType = NoInput, I extends z.ZodType = NoInput>(operation: AdminOperation<P, I>) => operation;

const page = s.pageQuery;
const userOutput = z.object({ user: s.userOutput });

export const ADMIN_OPERATIONS = {
  overview: op({ method: 'get', path: '/api/admin/overview', summary: 'Provider health, counts, the last security events', output: s.overviewOutput }),
  openApi: op({ method: 'get', path: '/api/admin/openapi', summary: 'This document' }),

  listClients: op({
    method: 'get',
    path: '/api/admin/clients',
    summary: 'Clients, newest first (q: client_id or name)',
    input: page,
    output: s.pageOf(s.clientOutput),
  }),
  createClient: op({
    method: 'post',
    path: '/api/admin/clients',
    summary: 'Register a client; the secret is in the answer, once',
    input: s.clientCreateInput,
    output: s.clientSecretOutput,
    recentSignIn: true,
  }),
  getClient: op({
    method: 'get',
    path: '/api/admin/clients/{clientId}',
    summary: 'One client and the grants it holds',
    params: s.clientIdParam,
    output: z.object({ client: s.clientOutput, counts: s.grantCountsOutput }),
  }),
  updateClient: op({
    method: 'post',
    path: '/api/admin/clients/{clientId}',
    summary: 'Edit a client',
    params: s.clientIdParam,
    input: s.clientUpdateInput,
    output: z.object({ client: s.clientOutput }),
  }),
  disableClient: op({
    method: 'post',
    path: '/api/admin/clients/{clientId}/disable',
    summary: 'Disable (revoking its grants) or enable',
    params: s.clientIdParam,
    input: s.disableInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),
  deleteClient: op({
    method: 'post',
    path: '/api/admin/clients/{clientId}/delete',
    summary: 'Delete, revoking its grants',
    params: s.clientIdParam,
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),
  rotateClientSecret: op({
    method: 'post',
    path: '/api/admin/clients/{clientId}/rotate-secret',
    summary: 'New secret (shown once); the old one works for grace_seconds',
    params: s.clientIdParam,
    input: s.rotateSecretInput,
    output: s.clientSecretOutput,
    recentSignIn: true,
  }),
  clientFamilies: op({
    method: 'get',
    path: '/api/admin/clients/{clientId}/families',
    summary: "The client's token ledger",
    params: s.clientIdParam,
    input: page,
    output: s.pageOf(s.familyOutput),
  }),
  clientFailures: op({
    method: 'get',
    path: '/api/admin/clients/{clientId}/failures',
    summary: "The client's failures of the last 7 days by reason",
    params: s.clientIdParam,
  }),
  revokeFamily: op({
    method: 'post',
    path: '/api/admin/families/{familyId}/revoke',
    summary: 'Revoke a grant',
    params: s.familyIdParam,
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),

  listUsers: op({ method: 'get', path: '/api/admin/users', summary: 'Users, newest first (q: email, name, id)', input: page, output: s.pageOf(s.userOutput) }),
  createUser: op({
    method: 'post',
    path: '/api/admin/users',
    summary: 'Create a user; a one-time password is in the answer, once',
    input: s.userCreateInput,
    output: s.userCreatedOutput,
    recentSignIn: true,
  }),
  getUser: op({
    method: 'get',
    path: '/api/admin/users/{userId}',
    summary: 'One user and the grants they hold',
    params: s.userIdParam,
    output: z.object({ user: s.userOutput, counts: s.grantCountsOutput }),
  }),
  updateUser: op({
    method: 'post',
    path: '/api/admin/users/{userId}',
    summary: 'Edit name, email, roles',
    params: s.userIdParam,
    input: s.userUpdateInput,
    output: userOutput,
    recentSignIn: true,
  }),
  lockUser: op({
    method: 'post',
    path: '/api/admin/users/{userId}/lock',
    summary: 'Lock: sign-in refused, sessions and grants ended',
    params: s.userIdParam,
    input: s.lockInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),
  unlockUser: op({
    method: 'post',
    path: '/api/admin/users/{userId}/unlock',
    summary: 'Unlock',
    params: s.userIdParam,
    input: s.emptyInput,
    output: userOutput,
  }),
  forcePasswordChange: op({
    method: 'post',
    path: '/api/admin/users/{userId}/force-password-change',
    summary: 'The next sign-in must choose a new password',
    params: s.userIdParam,
    input: s.emptyInput,
    output: userOutput,
  }),
  deleteUser: op({
    method: 'post',
    path: '/api/admin/users/{userId}/delete',
    summary: 'Delete with sessions, consents and grants',
    params: s.userIdParam,
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),
  endUserSessions: op({
    method: 'post',
    path: '/api/admin/users/{userId}/end-sessions',
    summary: 'End every session of the user',
    params: s.userIdParam,
    input: s.emptyInput,
    output: s.revokedOutput.partial(),
    recentSignIn: true,
  }),
  userFamilies: op({
    method: 'get',
    path: '/api/admin/users/{userId}/families',
    summary: "The user's token ledger",
    params: s.userIdParam,
    input: page,
    output: s.pageOf(s.familyOutput),
  }),
  userConsents: op({
    method: 'get',
    path: '/api/admin/users/{userId}/consents',
    summary: "The user's consents",
    params: s.userIdParam,
    output: z.object({ items: z.array(s.consentOutput) }),
  }),
  revokeConsent: op({
    method: 'post',
    path: '/api/admin/users/{userId}/consents/{clientId}/revoke',
    summary: 'Withdraw a consent, revoking its refresh tokens',
    params: s.consentParam,
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  }),
  userEvents: op({
    method: 'get',
    path: '/api/admin/users/{userId}/events',
    summary: "The user's audit events",
    params: s.userIdParam,
    input: page,
    output: s.pageOf(s.auditEntryOutput),
  }),
  userSessions: op({
    method: 'get',
    path: '/api/admin/users/{userId}/sessions',
    summary: "The user's active sessions",
    params: s.userIdParam,
    input: page,
    output: s.pageOf(s.sessionOutput),
  }),

  listSessions: op({ method: 'get', path: '/api/admin/sessions', summary: 'Active sessions (q: email)', input: page, output: s.pageOf(s.sessionOutput) }),
  endSession: op({
    method: 'post',
    path: '/api/admin/sessions/{sid}/end',
    summary: 'End a session',
    params: s.sessionIdParam,
    input: s.emptyInput,
    output: s.revokedOutput.partial(),
    recentSignIn: true,
  }),

  listKeys: op({
    method: 'get',
    path: '/api/admin/keys',
    summary: 'Signing keys and schedule',
    output: z.object({ items: z.array(s.keyOutput), keep_published_seconds: z.number(), publish_ahead_seconds: z.number() }),
  }),
  rotateKey: op({
    method: 'post',
    path: '/api/admin/keys/rotate',
    summary: "Schedule (or, immediate, force) the rotation of an algorithm's key",
    input: s.keyRotateInput,
    output: s.keyRotateOutput,
    recentSignIn: true,
  }),

  securityEvents: op({
    method: 'get',
    path: '/api/admin/security',
    summary: 'Security events, newest first',
    input: s.securityQuery,
    output: s.pageOf(s.auditEntryOutput),
  }),
  audit: op({
    method: 'get',
    path: '/api/admin/audit',
    summary: 'The audit trail, filtered and keyset-paginated; format=csv|json streams the whole range instead',
    input: auditQuery,
    output: s.auditPageOutput,
  }),
  auditEvent: op({
    method: 'get',
    path: '/api/admin/audit/events/{eventId}',
    summary: 'An audit event with its related events',
    params: s.eventIdParam,
    output: s.eventDetailOutput,
  }),
};
