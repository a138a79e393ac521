import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.next/**', '**/dist/**', '**/.turbo/**', '.data/**', 'test-artifacts/**', '**/next-env.d.ts', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', performance: 'readonly', queueMicrotask: 'readonly', URLSearchParams: 'readonly', crypto: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // SQL belongs in packages/database-identity; elsewhere, importing a driver is a smell
      'no-restricted-imports': ['error', { paths: [{ name: 'postgres', message: 'SQL lives in packages/database-identity' }, { name: '@electric-sql/pglite', message: 'SQL lives in packages/database-identity' }] }],
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
