import { Database, KeyRound, ShieldCheck, Tag } from 'lucide-react';
import { getContainer } from '@/lib/container';

export const dynamic = 'force-dynamic';

export default async function HomePage() {
  const { config, store, version } = await getContainer();
  const rows = [
    { icon: ShieldCheck, label: 'Issuer', value: config.issuer },
    {
      icon: Database,
      label: 'Database',
      value: store.db.kind === 'embedded' ? `embedded PGlite (${config.dataDir})` : 'PostgreSQL (DATABASE_URL)',
    },
    { icon: Tag, label: 'Version', value: version },
    { icon: KeyRound, label: 'Discovery', value: `${config.issuer}/.well-known/openid-configuration` },
  ];
  return (
    <main className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-3xl font-semibold tracking-tight">Identity provider</h1>
      <p className="mt-2 text-slate-600">OpenID Connect provider with token audit logging and analytics.</p>
      <dl className="mt-8 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
        {rows.map(({ icon: Icon, label, value }) => (
          <div key={label} className="flex items-center gap-4 px-5 py-4">
            <Icon aria-hidden className="h-5 w-5 text-brand-600" />
            <dt className="w-28 text-sm font-medium text-slate-500">{label}</dt>
            <dd className="break-all font-mono text-sm" data-testid={`home-${label.toLowerCase()}`}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
    </main>
  );
}
