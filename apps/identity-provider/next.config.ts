import { resolve } from 'node:path';
import type { NextConfig } from 'next';
import baseConfig from '../../next.config';

const config: NextConfig = {
  ...baseConfig,
  // workspace packages ship TypeScript source
  transpilePackages: ['@idp/database-identity'],
  // loaded by Node at run time, not bundled: PGlite reads its WASM files from its package directory
  serverExternalPackages: ['@electric-sql/pglite', 'postgres'],
  // the monorepo root, so Turbopack resolves hoisted packages (Next runs with the app as cwd)
  turbopack: { root: resolve(process.cwd(), '../..') },
  // forbidden() in the admin pages: the 403 page with HTTP status 403 (app/forbidden.tsx)
  experimental: { authInterrupts: true },
};

export default config;
