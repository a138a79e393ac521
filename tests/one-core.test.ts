import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_DIR, REPO_ROOT } from './support/server';

/**
 * One core per process (lib/core.ts): the production build holds the container, the host marker and the
 * modules that build them in dist/core.mjs only. Next's server output must not carry its own copy (it reaches
 * the core at run time by package name), and that name must lead Node to the very file server.mjs imports.
 */
const CORE = '@idp/identity-provider/core';
const STATEFUL = ['apps/identity-provider/lib/container.ts', 'apps/identity-provider/lib/next-host.ts', 'apps/identity-provider/lib/http/route-handler.ts'];

function sourceMaps(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.js.map'))
    .map((name) => join(dir, name));
}

/** The repository files a source map was made from (Turbopack's maps are indexed: one map per section). */
function sourcesOf(mapFile: string): string[] {
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources?: string[]; sections?: { map: { sources?: string[] } }[] };
  const sources = [...(map.sources ?? []), ...(map.sections ?? []).flatMap((section) => section.map.sources ?? [])];
  return sources.map((source) => relative(REPO_ROOT, join(mapFile, '..', source.replace(/^file:\/\//, ''))));
}

describe('one core per process', () => {
  it("keeps the container out of Next's server bundles", () => {
    const bundled = new Set(sourceMaps(join(APP_DIR, '.next', 'server')).flatMap(sourcesOf));
    expect(bundled.size).toBeGreaterThan(0);
    expect(STATEFUL.filter((file) => bundled.has(file))).toEqual([]);
    expect([...bundled].some((file) => file.endsWith('lib/http/next.ts'))).toBe(true);
  });

  it('has server.mjs import the core by the name Next uses, not bundle it', () => {
    const server = readFileSync(join(APP_DIR, 'dist', 'server.mjs'), 'utf8');
    expect(server).toContain(`from "${CORE}"`);
    expect(new Set(sourcesOf(join(APP_DIR, 'dist', 'server.mjs.map'))).has(STATEFUL[0])).toBe(false);
    expect(new Set(sourcesOf(join(APP_DIR, 'dist', 'core.mjs.map'))).has(STATEFUL[0])).toBe(true);
  });

  it("resolves the core to one file from Next's output and from dist/", () => {
    const from = (file: string) => realpathSync(createRequire(join(APP_DIR, file)).resolve(CORE));
    expect(from('.next/server/chunks/any.js')).toBe(join(APP_DIR, 'dist', 'core.mjs'));
    expect(from('dist/server.mjs')).toBe(join(APP_DIR, 'dist', 'core.mjs'));
  });
});
