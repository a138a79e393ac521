/**
 * Next's start-up hook (`next start`, `next dev`, and hosts that run Next's own server): builds the
 * container (database, migrations, first-start bootstrap) before the first request and starts the
 * maintenance loop. Under server.ts, which does both itself, it does nothing.
 */
export async function register(): Promise<void> {
  // the edge runtime has no database, and `next build` must not open one
  if (process.env.NEXT_RUNTIME !== 'nodejs' || process.env.NEXT_PHASE === 'phase-production-build') return;
  const { loadCore } = await import('./lib/http/next');
  await (await loadCore()).startOnNextHost();
}
