import type { Metadata } from 'next';
import { DemoHome } from '@/components/demo/demo-home';
import { DemoShell } from '@/components/demo/demo-shell';
import { getContainer } from '@/lib/http/next';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Demo relying party', robots: { index: false, follow: false } };

export default async function DemoPage() {
  const { config } = await getContainer();
  return (
    <DemoShell>
      {config.demoClient ? (
        <DemoHome />
      ) : (
        <p className="rounded-md border border-slate-200 bg-white px-4 py-3 text-sm text-slate-600" data-testid="demo-disabled">
          The demo client is not registered on this instance (set <code className="font-mono">DEMO_CLIENT=true</code> to enable it).
        </p>
      )}
    </DemoShell>
  );
}
