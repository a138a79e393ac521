import type { Metadata } from 'next';
import Link from 'next/link';
import { Activity, AppWindow, BarChart3, Database, FileJson, KeyRound, LayoutDashboard, LogIn, ShieldCheck, Tag, Terminal, UserRound } from 'lucide-react';
import { getContainer } from '@/lib/http/next';
import { DEMO_CLIENT_ID } from '@/lib/bootstrap';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Identity provider' };

const card =
  'group flex h-full items-start gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm hover:border-brand-300 hover:bg-brand-50/40 ' +
  'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';

interface Destination {
  href: string;
  icon: typeof LogIn;
  title: string;
  text: string;
  testId: string;
  /** Plain link (an API or a path the fast path serves), not a client-side navigation. */
  external?: boolean;
  /** Built elsewhere (the admin console): not prefetched. */
  noPrefetch?: boolean;
}

/**
 * The start page: where to go first (sign in as the administrator, the console, the analytics, your own
 * account, the demo relying party, discovery) and, in development, how to register a first client and
 * fill the dashboards with demo traffic.
 */
export default async function HomePage() {
  const { config, store, version } = await getContainer();
  const demo = !config.production && config.demoClient ? await store.clients.find(DEMO_CLIENT_ID) : null;
  const destinations: Destination[] = [
    {
      href: '/interaction/start?return_to=%2Fadmin',
      icon: LogIn,
      title: 'Sign in as administrator',
      text: `${config.adminEmail}; the first start printed its one-time password.`,
      testId: 'start-sign-in',
      external: true,
    },
    {
      href: '/admin',
      icon: LayoutDashboard,
      title: 'Admin console',
      text: 'Users, clients, keys, sessions and the audit trail.',
      testId: 'start-admin',
      noPrefetch: true,
    },
    {
      href: '/analytics/tokens',
      icon: BarChart3,
      title: 'Token analytics',
      text: 'Issuance, failures, top clients and users, live activity.',
      testId: 'start-analytics',
    },
    {
      href: '/account',
      icon: UserRound,
      title: 'Your account',
      text: 'Profile, password, sign-in methods, sessions and connected apps.',
      testId: 'start-account',
    },
    ...(demo
      ? [
          {
            href: '/demo',
            icon: AppWindow,
            title: 'Demo relying party',
            text: 'Sign in to a sample app with code + PKCE and see the tokens.',
            testId: 'start-demo',
          },
        ]
      : []),
    {
      href: '/.well-known/openid-configuration',
      icon: FileJson,
      title: 'Discovery',
      text: 'The OpenID Provider metadata relying parties configure themselves from.',
      testId: 'start-discovery',
      external: true,
    },
  ];
  const facts = [
    { icon: ShieldCheck, label: 'Issuer', value: config.issuer },
    { icon: Database, label: 'Database', value: store.db.kind === 'embedded' ? `embedded PGlite (${config.dataDir})` : 'PostgreSQL (DATABASE_URL)' },
    { icon: Tag, label: 'Version', value: version },
    { icon: KeyRound, label: 'Discovery', value: `${config.issuer}/.well-known/openid-configuration` },
  ];
  return (
    <main className="mx-auto max-w-5xl px-4 py-10 sm:px-6 sm:py-14">
      <div className="flex items-center gap-2">
        <ShieldCheck aria-hidden className="h-7 w-7 text-brand-600" />
        <h1 className="text-3xl font-semibold tracking-tight">Identity provider</h1>
      </div>
      <p className="mt-2 text-slate-600">OpenID Connect provider with token audit logging and analytics. Start here.</p>

      <nav aria-label="Start" className="mt-8">
        <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {destinations.map(({ href, icon: Icon, title, text, testId, external, noPrefetch }) => {
            const body = (
              <>
                <Icon aria-hidden className="mt-0.5 h-5 w-5 shrink-0 text-brand-600" />
                <span className="min-w-0">
                  <span className="block text-sm font-semibold text-slate-900 group-hover:text-brand-700">{title}</span>
                  <span className="mt-0.5 block text-sm text-slate-600">{text}</span>
                </span>
              </>
            );
            return (
              <li key={href}>
                {external ? (
                  <a href={href} className={card} data-testid={testId}>
                    {body}
                  </a>
                ) : (
                  <Link href={href} prefetch={noPrefetch ? false : undefined} className={card} data-testid={testId}>
                    {body}
                  </Link>
                )}
              </li>
            );
          })}
        </ul>
      </nav>

      {!config.production && (
        <section aria-labelledby="dev-title" className="mt-8 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid="start-development">
          <h2 id="dev-title" className="flex items-center gap-2 text-base font-semibold tracking-tight">
            <Terminal aria-hidden className="h-5 w-5 text-brand-600" />
            In development
          </h2>
          <p className="mt-1 text-sm text-slate-600">Register your first client from a second terminal (its secret is printed once):</p>
          <pre className="mt-2 overflow-x-auto rounded-md bg-slate-900 px-3 py-2 text-xs text-slate-100">
            <code>
              {[
                'npm run idp -- clients:create --name "My app" --redirect-uri http://localhost:5173/callback',
                'npm run idp -- clients:create --name "My SPA" --public --redirect-uri http://localhost:5173/callback',
              ].join('\n')}
            </code>
          </pre>
          <p className="mt-2 text-xs text-slate-500">
            With the embedded database the CLI needs the server stopped (or set DATABASE_URL). Point your app at the issuer above; it reads the rest from
            discovery.
          </p>
          <p className="mt-4 flex items-center gap-2 text-sm text-slate-600">
            <Activity aria-hidden className="h-4 w-4 text-brand-600" />
            Empty dashboards? Replay a minute of labelled demo traffic against this running server:
          </p>
          <pre className="mt-2 overflow-x-auto rounded-md bg-slate-900 px-3 py-2 text-xs text-slate-100">
            <code>npm run idp -- demo:traffic</code>
          </pre>
        </section>
      )}

      <dl className="mt-8 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
        {facts.map(({ icon: Icon, label, value }) => (
          <div key={label} className="flex flex-wrap items-center gap-x-4 gap-y-1 px-5 py-3">
            <Icon aria-hidden className="h-5 w-5 text-brand-600" />
            <dt className="w-28 text-sm font-medium text-slate-500">{label}</dt>
            <dd className="min-w-0 break-all font-mono text-sm" data-testid={`home-${label.toLowerCase()}`}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
    </main>
  );
}
