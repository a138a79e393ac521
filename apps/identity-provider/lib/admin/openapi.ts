import { z } from 'zod';
import * as s from './schemas';

/**
 * The admin API as an OpenAPI 3.1 document, generated from the zod schemas the routes parse with
 * (z.toJSONSchema): served at GET /api/admin/openapi. Every change is a POST with a JSON body, the
 * session cookie, Origin of this site and `X-CSRF-Token`; errors have the `Problem` shape.
 */
type Op = { method: 'get' | 'post'; path: string; summary: string; input?: z.ZodType; output?: z.ZodType; recentSignIn?: boolean };

const page = s.pageQuery;
const OPS: Op[] = [
  { method: 'get', path: '/api/admin/overview', summary: 'Provider health, counts, the last security events', output: s.overviewOutput },
  { method: 'get', path: '/api/admin/clients', summary: 'Clients, newest first (q: client_id or name)', input: page, output: s.pageOf(s.clientOutput) },
  {
    method: 'post',
    path: '/api/admin/clients',
    summary: 'Register a client; the secret is in the answer, once',
    input: s.clientCreateInput,
    output: s.clientSecretOutput,
    recentSignIn: true,
  },
  {
    method: 'get',
    path: '/api/admin/clients/{clientId}',
    summary: 'One client and the grants it holds',
    output: z.object({ client: s.clientOutput, counts: s.grantCountsOutput }),
  },
  { method: 'post', path: '/api/admin/clients/{clientId}', summary: 'Edit a client', input: s.clientUpdateInput, output: z.object({ client: s.clientOutput }) },
  {
    method: 'post',
    path: '/api/admin/clients/{clientId}/disable',
    summary: 'Disable (revoking its grants) or enable',
    input: s.disableInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  {
    method: 'post',
    path: '/api/admin/clients/{clientId}/delete',
    summary: 'Delete, revoking its grants',
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  {
    method: 'post',
    path: '/api/admin/clients/{clientId}/rotate-secret',
    summary: 'New secret (shown once); the old one works for grace_seconds',
    input: s.rotateSecretInput,
    output: s.clientSecretOutput,
    recentSignIn: true,
  },
  { method: 'get', path: '/api/admin/clients/{clientId}/families', summary: "The client's token ledger", input: page, output: s.pageOf(s.familyOutput) },
  { method: 'get', path: '/api/admin/clients/{clientId}/failures', summary: "The client's failures of the last 7 days by reason" },
  {
    method: 'post',
    path: '/api/admin/families/{familyId}/revoke',
    summary: 'Revoke a grant',
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  { method: 'get', path: '/api/admin/users', summary: 'Users, newest first (q: email, name, id)', input: page, output: s.pageOf(s.userOutput) },
  {
    method: 'post',
    path: '/api/admin/users',
    summary: 'Create a user; a one-time password is in the answer, once',
    input: s.userCreateInput,
    output: s.userCreatedOutput,
    recentSignIn: true,
  },
  {
    method: 'get',
    path: '/api/admin/users/{userId}',
    summary: 'One user and the grants they hold',
    output: z.object({ user: s.userOutput, counts: s.grantCountsOutput }),
  },
  {
    method: 'post',
    path: '/api/admin/users/{userId}',
    summary: 'Edit name, email, roles',
    input: s.userUpdateInput,
    output: z.object({ user: s.userOutput }),
    recentSignIn: true,
  },
  {
    method: 'post',
    path: '/api/admin/users/{userId}/lock',
    summary: 'Lock: sign-in refused, sessions and grants ended',
    input: s.lockInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  { method: 'post', path: '/api/admin/users/{userId}/unlock', summary: 'Unlock', input: s.emptyInput, output: z.object({ user: s.userOutput }) },
  {
    method: 'post',
    path: '/api/admin/users/{userId}/force-password-change',
    summary: 'The next sign-in must choose a new password',
    input: s.emptyInput,
    output: z.object({ user: s.userOutput }),
  },
  {
    method: 'post',
    path: '/api/admin/users/{userId}/delete',
    summary: 'Delete with sessions, consents and grants',
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  {
    method: 'post',
    path: '/api/admin/users/{userId}/end-sessions',
    summary: 'End every session of the user',
    input: s.emptyInput,
    output: s.revokedOutput.partial(),
    recentSignIn: true,
  },
  { method: 'get', path: '/api/admin/users/{userId}/families', summary: "The user's token ledger", input: page, output: s.pageOf(s.familyOutput) },
  { method: 'get', path: '/api/admin/users/{userId}/consents', summary: "The user's consents", output: z.object({ items: z.array(s.consentOutput) }) },
  {
    method: 'post',
    path: '/api/admin/users/{userId}/consents/{clientId}/revoke',
    summary: 'Withdraw a consent, revoking its refresh tokens',
    input: s.emptyInput,
    output: s.revokedOutput,
    recentSignIn: true,
  },
  { method: 'get', path: '/api/admin/users/{userId}/events', summary: "The user's audit events", input: page, output: s.pageOf(s.auditEntryOutput) },
  { method: 'get', path: '/api/admin/users/{userId}/sessions', summary: "The user's active sessions", input: page, output: s.pageOf(s.sessionOutput) },
  { method: 'get', path: '/api/admin/sessions', summary: 'Active sessions (q: email)', input: page, output: s.pageOf(s.sessionOutput) },
  {
    method: 'post',
    path: '/api/admin/sessions/{sid}/end',
    summary: 'End a session',
    input: s.emptyInput,
    output: s.revokedOutput.partial(),
    recentSignIn: true,
  },
  {
    method: 'get',
    path: '/api/admin/keys',
    summary: 'Signing keys and schedule',
    output: z.object({ items: z.array(s.keyOutput), keep_published_seconds: z.number(), publish_ahead_seconds: z.number() }),
  },
  {
    method: 'post',
    path: '/api/admin/keys/rotate',
    summary: "Schedule (or, immediate, force) the rotation of an algorithm's key",
    input: s.keyRotateInput,
    output: s.keyRotateOutput,
    recentSignIn: true,
  },
  { method: 'get', path: '/api/admin/security', summary: 'Security events, newest first', input: s.securityQuery, output: s.pageOf(s.auditEntryOutput) },
  { method: 'get', path: '/api/admin/audit/events/{eventId}', summary: 'An audit event with its related events', output: s.eventDetailOutput },
];

const json = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query =
      op.method === 'get' && op.input instanceof z.ZodObject
        ? Object.entries((json(op.input, 'input') as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, schema]) => ({
            name,
            in: 'query',
            required: false,
            schema,
          }))
        : [];
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary + (op.recentSignIn ? ' (needs a sign-in within ADMIN_REAUTH_SECONDS)' : ''),
      parameters: [...params, ...query],
      ...(op.method === 'post' && op.input ? { requestBody: { required: true, content: { 'application/json': { schema: json(op.input, 'input') } } } } : {}),
      responses: {
        200: { description: 'OK', content: { 'application/json': { schema: op.output ? json(op.output, 'output') : {} } } },
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Identity provider admin API', version: '1' },
    paths,
    components: { schemas: { Problem: json(s.problemOutput, 'output') } },
  };
}
