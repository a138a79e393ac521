// Compiles the production server (server.ts, lib/, and the workspace packages it imports) into one ES module,
// dist/server.mjs, that plain `node` runs. Running it through a TypeScript loader instead costs the hot path
// measurably: tsx compiles with keepNames, which wraps every closure created per request. npm packages stay
// external (resolved from node_modules at run time, as Next's own build does).
import { build } from 'esbuild';

await build({
  entryPoints: ['server.ts'],
  outfile: 'dist/server.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  define: { __IDP_BUNDLED__: 'true' },
  // CommonJS packages reached through `require` inside bundled code
  banner: { js: "import { createRequire as __idpCreateRequire } from 'node:module'; const require = __idpCreateRequire(import.meta.url);" },
  plugins: [
    {
      name: 'external-npm-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@idp/') || args.path.startsWith('@/') ? undefined : { external: true }));
      },
    },
  ],
});
