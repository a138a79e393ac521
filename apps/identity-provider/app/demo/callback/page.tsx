import type { Metadata } from 'next';
import { DemoCallback } from '@/components/demo/demo-callback';
import { DemoShell } from '@/components/demo/demo-shell';

// rendered per request: its scripts need the nonce of the request's Content-Security-Policy (proxy.ts)
export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Demo relying party · signing in', robots: { index: false, follow: false } };

export default function DemoCallbackPage() {
  return (
    <DemoShell>
      <DemoCallback />
    </DemoShell>
  );
}
