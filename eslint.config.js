import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// SQL belongs in packages/database-identity; elsewhere, importing a driver is a smell
const DRIVERS = [
  { name: 'postgres', message: 'SQL lives in packages/database-identity' },
  { name: '@electric-sql/pglite', message: 'SQL lives in packages/database-identity' },
];

const CORE_PATTERNS = [
  { group: ['next', 'next/*'], message: 'lib/oidc is framework-free: Next belongs in app/ and lib/http' },
  { group: ['**/http', '**/http/*', '@/lib/http/*'], message: 'lib/oidc must not import lib/http: the edge imports the core, not the reverse' },
];
// the core states what it takes from the data package in a few files: records and clock in domain.ts,
// crypto in crypto.ts, the storage contract in store.ts (its implementations are wired in lib/container.ts)
const DATA_PACKAGE = { name: '@idp/database-identity', message: 'lib/oidc imports the data package through ./domain or ./crypto; store methods go in ./store' };

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.next/**', '**/dist/**', '**/.turbo/**', '.data/**', 'test-artifacts/**', '**/next-env.d.ts', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        AbortController: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        URLSearchParams: 'readonly',
        crypto: 'readonly',
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: DRIVERS }],
      // imports at the top of a module, before any statement
      'import-x/first': 'error',
    },
  },
  {
    // the protocol core is framework-free: it knows neither Next nor the HTTP edge that mounts it (lib/http)
    files: ['apps/identity-provider/lib/oidc/**'],
    ignores: ['**/*.test.ts', 'apps/identity-provider/lib/oidc/test-provider.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [...DRIVERS, DATA_PACKAGE], patterns: CORE_PATTERNS }] },
  },
  {
    // the core's doorways to the data package (domain.ts header)
    files: ['apps/identity-provider/lib/oidc/domain.ts', 'apps/identity-provider/lib/oidc/crypto.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: DRIVERS, patterns: CORE_PATTERNS }] },
  },
  {
    // Next compiles app/ with its own copy of what app/ imports: the process's one core (the container and the
    // host marker) is reached at run time through lib/http/next.ts, never bundled (tests/one-core.test.ts)
    files: ['apps/identity-provider/app/**', 'apps/identity-provider/proxy.ts', 'apps/identity-provider/instrumentation.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: DRIVERS,
          patterns: [
            {
              group: ['@/lib/container', '**/lib/container', '@/lib/core', '**/lib/core', '@/lib/next-host', '**/lib/next-host'],
              message: 'the core is loaded at run time, not bundled by Next: use lib/http/next.ts (getContainer, loadCore)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/database-identity/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['monitoring/**/*.mjs', 'tests/**', 'bench/**'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: { 'no-restricted-imports': 'off' },
  },
);
