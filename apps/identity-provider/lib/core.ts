/**
 * The core's entry: the modules that hold the process's state (the container with its database, caches,
 * metrics and audit queue; the host marker; the core's response factory) and what both mounts call into.
 * scripts/build-server.mjs builds it once, to dist/core.mjs, exported as `@idp/identity-provider/core`.
 * server.ts imports it; Next's bundles load it at run time (lib/http/next.ts). Node's module cache then
 * gives both mounts the same instance: one container per process, no global registry.
 */
export { DEFAULT_CLOSE_DEADLINE_MS } from '@idp/database-identity';
export { startAdminSocket } from './admin/cli-socket';
export { createContainer, customServerIsHost, getContainer, installContainer, type Container } from './container';
export { ConfigError, loadConfig } from './env';
export { resolveClientIp } from './http/client-ip';
export { CLIENT_IP_HEADER, isProviderPath } from './http/edge';
export { createFastPath, nodeHeaderReader } from './http/node/fast-path';
export { handleRouteRequest } from './http/route-handler';
export { startOnNextHost } from './next-host';
export { createMetricsHandler, createScrapeSampler } from './observability/metrics-endpoint';
