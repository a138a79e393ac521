import type { Metadata } from 'next';
import { DemoCallback } from '@/components/demo/demo-callback';
import { DemoShell } from '@/components/demo/demo-shell';

export const metadata: Metadata = { title: 'Demo relying party · signing in', robots: { index: false, follow: false } };

export default function DemoCallbackPage() {
  return (
    <DemoShell>
      <DemoCallback />
    </DemoShell>
  );
}
