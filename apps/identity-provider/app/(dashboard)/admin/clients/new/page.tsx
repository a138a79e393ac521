import type { Metadata } from 'next';
import { AppWindow } from 'lucide-react';
import { ClientCreateForm } from '@/components/admin/actions';
import { PageHeader, Panel } from '@/components/admin/ui';
import { adminPage } from '@/lib/admin/page';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Register a client · Admin' };

export default async function NewClientPage() {
  await adminPage();
  return (
    <>
      <PageHeader
        icon={<AppWindow aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Register a client"
        crumbs={[{ href: '/admin/clients', label: 'Clients' }]}
        description="Redirect URIs follow OAuth 2.1 and RFC 8252: https; http only on loopback hosts in production; a native app's private-use scheme in reverse-domain form; never fragments or credentials."
      />
      <Panel title="New client">
        <ClientCreateForm />
      </Panel>
    </>
  );
}
