import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi';

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
  });
});
