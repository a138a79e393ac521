import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// migrated database templates, made once per run (a project's globalSetup; the second and third find them made)
const globalSetup = [fileURLToPath(new URL('./vitest.global-setup.ts', import.meta.url))];

// The suites that freeze, lock and stop the fault cluster (tests/support/fault-cluster.ts): one at a time.
const exclusiveE2e = ['audit-faults.test.ts', 'db-faults.test.ts'];

// One run for the whole workspace; each package is a project. Packages resolve to their TypeScript source.
export default defineConfig({
  test: {
    // Most of a test's time is waiting (on a spawned provider, Postgres, a browser), not computing: vitest's
    // default of one worker per core less one would run this suite on a single worker on a 2-core machine.
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: 'database-identity',
          root: './packages/database-identity',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          testTimeout: 180_000, // PGlite's analytics cases take tens of seconds when the workers share two cores
          hookTimeout: 120_000,
          globalSetup,
        },
      },
      {
        test: {
          name: 'identity-provider',
          root: './apps/identity-provider',
          include: ['lib/**/*.test.ts', 'cli/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          globalSetup,
        },
        // the core lib/http/next.ts loads at run time is then the source, the very modules the tests import
        ssr: { resolve: { conditions: ['idp-source'] } },
      },
      {
        test: {
          name: 'e2e',
          root: './tests',
          include: ['**/*.test.ts'],
          exclude: exclusiveE2e,
          testTimeout: 120_000,
          hookTimeout: 600_000,
          globalSetup,
          // each file starts its own providers on free ports, data directories and databases: files run side by side
          // a page or a spawned server answers within seconds, not vitest's default 1 s, while files share the cores
          expect: { poll: { timeout: 15_000 } },
        },
      },
      {
        test: {
          name: 'e2e-faults',
          root: './tests',
          include: exclusiveE2e,
          testTimeout: 120_000,
          hookTimeout: 600_000,
          globalSetup,
          fileParallelism: false,
          expect: { poll: { timeout: 15_000 } },
          // after everything else (vitest runs projects with different worker counts in separate groups)
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
