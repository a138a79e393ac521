import { z } from 'zod';
import { ADMIN_OPERATIONS, type AdminOperation } from './operations';
import * as s from './schemas';

/**
 * The admin API as an OpenAPI 3.1 document, generated from the operations table the routes run on
 * (lib/admin/operations.ts) and its zod schemas (z.toJSONSchema): served at GET /api/admin/openapi. Every change is a POST with a JSON body, the
 * session cookie, Origin of this site and `X-CSRF-Token`; errors have the `Problem` shape.
 */
const json = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of Object.values(ADMIN_OPERATIONS) as AdminOperation<z.ZodType, z.ZodType>[]) {
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
