// Compiles the production server into ES modules that plain `node` runs: dist/core.mjs, the core (lib/core.ts
// and everything it reaches, the workspace packages included), and dist/server.mjs, server.ts, which imports
// the core by its package name (`@idp/identity-provider/core`) as Next's bundles do at run time: one file, so
// one module instance per process. Running through a TypeScript loader instead costs the hot path
// measurably: tsx compiles with keepNames, which wraps every closure created per request. npm packages stay
// external (resolved from node_modules at run time, as Next's own build does).
import { build } from 'esbuild';

const options = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // CommonJS packages reached through `require` inside bundled code
  banner: { js: "import { createRequire as __idpCreateRequire } from 'node:module'; const require = __idpCreateRequire(import.meta.url);" },
  plugins: [
    {
      name: 'external-npm-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          (args.path.startsWith('@idp/') && args.path !== '@idp/identity-provider/core') || args.path.startsWith('@/') ? undefined : { external: true },
        );
      },
    },
  ],
};

await build({ ...options, entryPoints: ['lib/core.ts'], outfile: 'dist/core.mjs' });
await build({ ...options, entryPoints: ['server.ts'], outfile: 'dist/server.mjs', define: { __IDP_BUNDLED__: 'true' } });
