import type { Metadata } from 'next';
import { KeyRound } from 'lucide-react';
import { ActionButton } from '@/components/admin/actions';
import { Badge, Empty, PageHeader, Panel, Table, td, when } from '@/components/admin/ui';
import { adminPage } from '@/lib/admin/page';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Signing keys · Admin' };

const TONES: Record<string, 'green' | 'amber' | 'slate' | 'blue'> = { active: 'green', retiring: 'amber', retired: 'slate', next: 'blue' };
const MEANING: Record<string, string> = {
  active: 'signs new tokens; published in the JWKS',
  retiring: 'no longer signs; stays published until what it signed has expired',
  retired: 'not published; kept for the record',
  next: 'published ahead of time; will become active',
};

export default async function KeysPage() {
  const { service } = await adminPage();
  const { items, keep_published_seconds: keep, publish_ahead_seconds: ahead } = await service.listKeys();
  const algs = [...new Set(['RS256', 'ES256', ...items.map((k) => k.alg)])] as ('RS256' | 'ES256')[];
  return (
    <>
      <PageHeader
        icon={<KeyRound aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Signing keys"
        description="The keys that sign ID and access tokens, by state. Rotation never breaks a token already issued."
      />
      <div className="grid gap-4 lg:grid-cols-2">
        {algs.map((alg) => (
          <Panel key={alg} title={`Rotate ${alg}`}>
            <ActionButton
              path="/api/admin/keys/rotate"
              body={{ alg }}
              label={`Rotate ${alg} key`}
              testId={`rotate-${alg}`}
              confirm={`A new ${alg} key is published in the JWKS now and starts signing in ${ahead} seconds (the JWKS max-age plus a margin) on every instance, so no verifier with a cached JWKS meets an unknown key. The current key then stays published ${keep} seconds more (the longest token lifetime), so tokens it signed keep verifying.`}
              done="Key {kid} published; it signs from {activates_at}."
            />
            <div className="mt-3">
              <ActionButton
                path="/api/admin/keys/rotate"
                body={{ alg, immediate: true }}
                label={`Emergency: ${alg} key signs now`}
                testId={`rotate-now-${alg}`}
                confirm={`Only for a compromised key: a new ${alg} key signs from now on. Verifiers whose cached JWKS predates it (up to the JWKS max-age; 30 minutes for Supabase) reject new tokens until they refetch. Tokens signed by the current key keep verifying.`}
                done="Key {kid} signs now."
              />
            </div>
          </Panel>
        ))}
      </div>
      <div className="mt-4">
        <Panel title="All keys">
          {items.length === 0 ? (
            <Empty>No keys.</Empty>
          ) : (
            <Table caption="Signing keys" head={['Key id', 'Algorithm', 'State', 'Created', 'Signs from', 'Published until']} testId="keys-table">
              {items.map((k) => (
                <tr key={k.kid} data-testid="key-row">
                  <td className={`${td} break-all text-xs`}>{k.kid}</td>
                  <td className={td}>{k.alg}</td>
                  <td className={td}>
                    <Badge tone={TONES[k.state] ?? 'slate'}>{k.state}</Badge>
                    <div className="text-xs text-slate-600">{MEANING[k.state] ?? ''}</div>
                  </td>
                  <td className={`${td} text-xs`}>{when(k.created_at)}</td>
                  <td className={`${td} text-xs`}>{k.activates_at ? when(k.activates_at) : '—'}</td>
                  <td className={`${td} text-xs`}>{k.retire_after ? when(k.retire_after) : '—'}</td>
                </tr>
              ))}
            </Table>
          )}
        </Panel>
      </div>
    </>
  );
}
