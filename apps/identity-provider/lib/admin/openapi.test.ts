import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi';
import { ADMIN_OPERATIONS } from './operations';

const APP = fileURLToPath(new URL('../../app', import.meta.url));

describe('admin OpenAPI document', () => {
  it('is generated from the zod schemas: every route, inputs and outputs', () => {
    const doc = openApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).length).toBeGreaterThan(20);
    const create = doc.paths['/api/admin/clients'].post as {
      requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[] } } } };
    };
    expect(create.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['name', 'kind']));
    const list = doc.paths['/api/admin/users'].get as { parameters: { name: string }[] };
    expect(list.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['cursor', 'limit', 'q']));
    const audit = doc.paths['/api/admin/audit'].get as { parameters: { name: string }[] };
    expect(audit.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['start', 'end', 'action', 'cursor', 'format']));
  });

  it('describes the routes that run: each operation is the spec of its route file', () => {
    for (const [name, op] of Object.entries(ADMIN_OPERATIONS)) {
      const file = `${APP}${op.path.replace(/\{(\w+)\}/g, '[$1]')}/route.ts`;
      expect(existsSync(file), `${name}: ${file}`).toBe(true);
      expect(readFileSync(file, 'utf8'), name).toContain(`export const ${op.method.toUpperCase()} = adminRoute(ADMIN_OPERATIONS.${name},`);
    }
  });
});
