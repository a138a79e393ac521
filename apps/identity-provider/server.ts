import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './lib/env';
import { createContainer, installContainer } from './lib/container';

/**
 * The provider's process: builds the container (config, database, migrations, first-start bootstrap)
 * before anything listens, then serves every request through Next.js.
 * `--dev` runs Next in development mode (hot reload); otherwise the production build is served.
 */
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

  const { default: next } = await import('next');
  const app = next({ dev, dir: dirname(fileURLToPath(import.meta.url)), hostname: config.host, port: config.port });
  const handleNext = app.getRequestHandler();
  await app.prepare();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
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
  server.listen(config.port, config.host, () => {
    log.info('identity provider listening', {
      url: config.issuer,
      port: config.port,
      database: container.store.db.kind,
      mode: dev ? 'development (next dev)' : 'production build',
    });
  });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info('shutting down', { signal });
    // stop accepting, let in-flight requests finish, then release the database
    server.close(async () => {
      await app.close?.().catch(() => {});
      await container.close();
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    // in-flight requests get a grace period; connections still open after it are cut
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
    setTimeout(() => process.exit(1), 20_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
