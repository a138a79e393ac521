import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_IP_HEADER,
  ConfigError,
  createContainer,
  createFastPath,
  createMetricsHandler,
  createScrapeSampler,
  DEFAULT_CLOSE_DEADLINE_MS,
  installContainer,
  isProviderPath,
  loadConfig,
  nodeHeaderReader,
  resolveClientIp,
  startAdminSocket,
} from '@idp/identity-provider/core';

/**
 * The provider's process: builds the container (config, database, migrations, first-start bootstrap)
 * before anything listens. Protocol endpoints (discovery, JWKS, authorize, token, userinfo, revocation,
 * introspection, end-session, interaction forms) go straight to the framework-free core: Next's router
 * costs about a millisecond of CPU per request, more than the token endpoint's own work. Pages go to Next.
 * `--dev` runs Next in development mode (hot reload); otherwise the production build is served. Everything
 * stateful comes from the core (lib/core.ts), the one instance Next's route handlers and pages use too.
 */
/** Shutdown ends the process after this long, whatever is still pending (the audit queue is spooled first). */
const HARD_EXIT_MS = 20_000;

const NEXT_METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS']);

/** Set by scripts/build-server.mjs in the compiled server (dist/server.mjs), one folder below the app. */
declare const __IDP_BUNDLED__: boolean | undefined;
const APP_DIR = fileURLToPath(new URL(typeof __IDP_BUNDLED__ !== 'undefined' ? '..' : '.', import.meta.url));

async function main() {
  const dev = process.argv.includes('--dev');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  const containerPromise = createContainer(config);
  installContainer(containerPromise);
  const container = await containerPromise;
  const { log } = container;
  const stopMaintenance = container.startMaintenance();
  // the admin CLI cannot open the embedded database while this process holds it: it talks to us instead
  const closeAdminSocket = config.database.url
    ? null
    : await startAdminSocket(container).catch((error: unknown) => {
        log.warn('admin socket not started; stop the server to use the CLI', { error });
        return null;
      });

  const { default: next } = await import('next');
  const app = next({ dev, dir: APP_DIR, hostname: config.host, port: config.port });
  const handleNext = app.getRequestHandler();
  await app.prepare();

  const origin = new URL(config.issuer).origin;
  // second line of defence on every fast-path answer (Next's pages get them from next.config): no MIME
  // sniffing; HSTS once the issuer is https
  const fastPathHeaders: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    ...(origin.startsWith('https:') ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
  const fastPath = createFastPath({ origin, provider: container.provider, metrics: container.metrics, log, headers: fastPathHeaders });

  // Prometheus exposition on METRICS_PATH, before Next; token/basic auth checked in constant time
  const serveMetrics = config.metrics.enabled
    ? createMetricsHandler({
        metrics: container.metrics,
        auth: config.metrics,
        log,
        sample: createScrapeSampler(
          container.metrics,
          {
            auditStats: () => container.audit.stats(),
            poolStats: () => container.store.db.poolStats(),
            countActiveSessions: () => container.store.sessions.countActive(),
            signingKeys: { schedule: () => container.keyRing.schedule(), rotateEverySeconds: config.signingKeys.rotateEverySeconds },
          },
          log,
        ),
      })
    : null;

  let closing = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // while shutting down, every answer ends its connection so keep-alive clients let go
    if (closing) res.setHeader('Connection', 'close');
    // only origin-form targets are routed; "OPTIONS *" asks what the server supports (RFC 9110 9.3.7)
    if (!req.url?.startsWith('/')) {
      if (req.url === '*' && req.method === 'OPTIONS') res.writeHead(204, { Allow: 'GET, HEAD, POST, OPTIONS' }).end();
      else
        res
          .writeHead(400, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
          .end(JSON.stringify({ error: 'invalid_request', error_description: 'The request target must be a path' }));
      return;
    }
    // the client IP as we resolve it; a value sent by the client under our header name is discarded
    const ip = resolveClientIp(req.socket.remoteAddress, nodeHeaderReader(req), config.trustedProxy);
    delete req.headers[CLIENT_IP_HEADER];
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (serveMetrics && pathname === config.metrics.path) {
      serveMetrics(req, res).catch((error: unknown) => {
        log.error('metrics request failed', { error });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
      return;
    }
    if (isProviderPath(pathname)) {
      fastPath(req, res, ip, pathname).catch((error: unknown) => {
        log.error('unhandled request error', { error, path: pathname });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'server_error' }));
        else res.destroy();
      });
      return;
    }
    // Next's pages and route handlers answer these methods; others (TRACE, PROPFIND...) would reach it as a 500
    if (!NEXT_METHODS.has(req.method ?? '')) {
      res.writeHead(405, { Allow: 'GET, HEAD, POST, OPTIONS', 'Cache-Control': 'no-store' }).end();
      return;
    }
    if (ip) req.headers[CLIENT_IP_HEADER] = ip;
    handleNext(req, res).catch((error: unknown) => {
      log.error('unhandled request error', { error, path: req.url?.split('?')[0] });
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ error: 'server_error' }));
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  // slow clients cannot hold connections open: headers and whole requests have deadlines, connections a cap
  server.headersTimeout = config.http.headersTimeoutMs;
  server.requestTimeout = config.http.requestTimeoutMs;
  server.maxConnections = config.http.maxConnections;
  server.listen(config.port, config.host, () => {
    log.info('identity provider listening', {
      url: config.issuer,
      port: config.port,
      database: container.store.db.kind,
      mode: dev ? 'development (next dev)' : 'production build',
    });
  });

  // Whatever ends the process (the hard exit below included), audit events the database has not acknowledged
  // are appended to the fsync'd spool first (synchronously: 'exit' listeners cannot wait), for the next start.
  process.once('exit', () => container.audit.spoolPending());

  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info('shutting down', { signal });
    stopMaintenance();
    const hardExitAt = Date.now() + HARD_EXIT_MS;
    // stop accepting, let in-flight requests finish, then release the database
    server.close(async () => {
      // the audit queue first, by a deadline that leaves the rest of the shutdown time before the hard exit: a
      // hanging database cannot hold it, what it has not taken by then is spooled
      await container.audit.close(Math.max(1_000, Math.min(DEFAULT_CLOSE_DEADLINE_MS, hardExitAt - Date.now() - 5_000)));
      await app.close?.().catch(() => {});
      await closeAdminSocket?.().catch(() => {});
      await container.close();
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    // connections busy at the signal become idle after their response: close those too as they go quiet
    setInterval(() => server.closeIdleConnections(), 250).unref();
    // in-flight requests get a grace period; connections still open after it are cut
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
    setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
