import type { Metadata } from 'next';
import { Users } from 'lucide-react';
import { UserCreateForm } from '@/components/admin/actions';
import { PageHeader, Panel } from '@/components/admin/ui';
import { adminPage } from '@/lib/admin/page';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Create a user · Admin' };

export default async function NewUserPage() {
  await adminPage();
  return (
    <>
      <PageHeader
        icon={<Users aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Create a user"
        crumbs={[{ href: '/admin/users', label: 'Users' }]}
        description="The user gets a one-time password, shown once here, and must choose their own at first sign-in."
      />
      <Panel title="New user">
        <UserCreateForm />
      </Panel>
    </>
  );
}
