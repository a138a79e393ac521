import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENDPOINT_MEMBERS, discoveryDocument } from '../oidc/endpoints/discovery';
import { DISCOVERED_PATHS, ROUTES } from '../oidc/router';
import { TEST_ISSUER } from '../oidc/test-provider';
import { isProviderPath } from './edge';

const APP = join(import.meta.dirname, '../../app');

/** Every route handler file under app/, by the URL path Next serves it at (route groups `(x)` add no segment). */
function routeFiles(): { path: string; file: string; source: string }[] {
  const found: { path: string; file: string; source: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'route.ts') {
        const segments = relative(APP, dir)
          .split(sep)
          .filter((segment) => segment && !/^\(.*\)$/.test(segment));
        found.push({ path: `/${segments.join('/')}`, file: relative(APP, full), source: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(APP);
  return found;
}

/** The methods a route file hands to the shared handler (`export { nextProviderHandler as GET, ... } from '@/lib/http/next'`). */
function delegatedMethods(source: string): string[] | null {
  const exported = /export \{([^}]*)\} from '@\/lib\/http\/next';/.exec(source);
  if (!exported) return null;
  return exported[1]
    .split(',')
    .map((part) => /^\s*nextProviderHandler as (\w+)\s*$/.exec(part)?.[1] ?? `unexpected: ${part.trim()}`)
    .sort();
}

const files = routeFiles();

describe('one routes table (lib/oidc/router.ts ROUTES) for dispatch, Next, the server, metrics and discovery', () => {
  it.each(Object.entries(ROUTES))('%s has exactly one route file, delegating its methods to the shared handler', (path, route) => {
    const mine = files.filter((f) => f.path === path);
    expect(mine.map((f) => f.file)).toHaveLength(1);
    const expected = [...route.methods, ...(route.cors ? ['OPTIONS'] : [])].sort();
    expect(delegatedMethods(mine[0].source), mine[0].file).toEqual(expected);
  });

  it('no route file outside the table delegates to the shared handler or serves a protocol path', () => {
    const outside = files.filter((f) => !Object.hasOwn(ROUTES, f.path));
    expect(outside.length).toBeGreaterThan(0); // the admin, account and health APIs
    for (const f of outside) {
      expect(delegatedMethods(f.source), f.file).toBeNull();
      expect(f.source, f.file).not.toContain('nextProviderHandler');
      expect(f.path, f.file).not.toMatch(/^\/(oidc|interaction|\.well-known)(\/|$)/);
    }
  });

  it("the server's fast path takes exactly the table's paths", () => {
    for (const path of Object.keys(ROUTES)) expect(isProviderPath(path), path).toBe(true);
    for (const f of files) expect(isProviderPath(f.path), f.path).toBe(Object.hasOwn(ROUTES, f.path));
    for (const path of ['/', '/login', '/oidc', '/oidc/token/', '/interaction', 'constructor', '__proto__']) expect(isProviderPath(path), path).toBe(false);
  });

  it('discovery publishes the URL of the route named for each metadata member', () => {
    const document = discoveryDocument({ issuer: TEST_ISSUER } as Parameters<typeof discoveryDocument>[0], DISCOVERED_PATHS);
    for (const member of ENDPOINT_MEMBERS) {
      const path = DISCOVERED_PATHS[member];
      expect(ROUTES[path]?.discovery, member).toBe(member);
      expect(document[member]).toBe(`${TEST_ISSUER}${path}`);
    }
    expect(Object.keys(document).slice(0, 8)).toEqual(['issuer', ...ENDPOINT_MEMBERS]);
  });

  it('every route the metrics time is one the operation label knows', () => {
    const operations = Object.entries(ROUTES).flatMap(([path, route]) => (route.operation ? [[path, route.operation]] : []));
    expect(Object.fromEntries(operations)).toEqual({
      '/oidc/token': 'token',
      '/oidc/userinfo': 'userinfo',
      '/oidc/introspect': 'introspect',
      '/oidc/revoke': 'revoke',
      '/oidc/authorize': 'authorize',
      '/oidc/authorize/resume': 'authorize',
      '/oidc/end-session': 'logout',
      '/interaction/logout': 'logout',
      '/interaction/login': 'login',
    });
  });
});
