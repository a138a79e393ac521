'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { Activity, AppWindow, Gauge, KeyRound, ScrollText, ShieldAlert, Users } from 'lucide-react';
import { focusRing } from './ui';

const SECTIONS = [
  { href: '/admin', label: 'Overview', icon: Gauge },
  { href: '/admin/clients', label: 'Clients', icon: AppWindow },
  { href: '/admin/users', label: 'Users', icon: Users },
  { href: '/admin/sessions', label: 'Sessions', icon: Activity },
  { href: '/admin/keys', label: 'Signing keys', icon: KeyRound },
  { href: '/admin/audit', label: 'Audit trail', icon: ScrollText },
  { href: '/admin/security', label: 'Security events', icon: ShieldAlert },
];

export function AdminNav() {
  const pathname = usePathname();
  return (
    <nav aria-label="Admin sections" className="-mx-1 flex gap-1 overflow-x-auto pb-1">
      {SECTIONS.map(({ href, label, icon: Icon }) => {
        const current = href === '/admin' ? pathname === href : pathname.startsWith(href);
        return (
          <Link
            key={href}
            href={href}
            aria-current={current ? 'page' : undefined}
            className={`inline-flex shrink-0 items-center gap-1.5 rounded-md px-2.5 py-1.5 text-sm font-medium ${current ? 'bg-brand-600 text-white' : 'text-slate-700 hover:bg-slate-100'} ${focusRing}`}
          >
            <Icon aria-hidden className="h-4 w-4" />
            {label}
          </Link>
        );
      })}
    </nav>
  );
}
