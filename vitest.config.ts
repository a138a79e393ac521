import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// migrated database templates, made once per run (a project's globalSetup; the second and third find them made)
const globalSetup = [fileURLToPath(new URL('./vitest.global-setup.ts', import.meta.url))];

// One run for the whole workspace; each package is a project. Packages resolve to their TypeScript source.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'database-identity',
          root: './packages/database-identity',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          testTimeout: 60_000,
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
          testTimeout: 120_000,
          hookTimeout: 600_000,
          globalSetup,
          // the end-to-end suites share one built app and one database server: run files one at a time
          fileParallelism: false,
        },
      },
    ],
  },
});
