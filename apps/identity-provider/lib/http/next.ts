import type * as Core from '../core';
import type { Container } from '../container';

let core: Promise<typeof Core> | undefined;

/**
 * The process's one core (lib/core.ts), as the code Next bundles reaches it. Next compiles app/ with its own
 * copy of whatever app/ imports; the container, the metrics and the response factory must not be copied, so
 * they are loaded at run time by Node from the package's built entry (dist/core.mjs, the file server.ts
 * imports too; the TypeScript source under `npm run dev`), and Node's module cache makes both mounts share it.
 */
export function loadCore(): Promise<typeof Core> {
  core ??= import(/* webpackIgnore: true */ '@idp/identity-provider/core');
  return core;
}

/** The process's container (built by server.ts, or on first use under Next's own server). */
export async function getContainer(): Promise<Container> {
  return (await loadCore()).getContainer();
}

/** Route handler for the protocol paths: the core's own (lib/http/route-handler.ts). */
export async function nextProviderHandler(request: Request): Promise<Response> {
  return (await loadCore()).handleRouteRequest(request);
}
