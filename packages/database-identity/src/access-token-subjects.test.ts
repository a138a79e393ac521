import { describe, expect, it } from 'vitest';
import { accessTokenSubjects } from './access-token-subjects';
import { RevocationSignal } from './queries/revocation';
import type { AccessTokenSubject } from './queries/users';

type Row = AccessTokenSubject & { epoch: number };

/** A store whose queries answer when the test says so, to put slow answers in a chosen order. */
function scriptedStore() {
  const signal = new RevocationSignal();
  let epoch = 0;
  const subjectQueries: Array<(row: Row) => void> = [];
  const store = {
    revocations: { epoch: async () => epoch, onChange: (listener: () => void) => signal.subscribe(listener) },
    users: { findAccessTokenSubject: () => new Promise<Row>((resolve) => subjectQueries.push(resolve)) },
  };
  return {
    store: store as unknown as Parameters<typeof accessTokenSubjects>[0],
    subjectQueries,
    /** A change made through this process's store: committed (epoch moves), then announced. */
    change() {
      epoch++;
      signal.notify();
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('accessTokenSubjects ordering', () => {
  it('never keeps an answer read before a change it has already heard of, whatever order answers arrive in', async () => {
    const db = scriptedStore();
    const subjects = accessTokenSubjects(db.store, { pollMs: 60_000, now: () => 0 });
    const before = subjects.lookup('u', 'j', 'f');
    await settle();
    expect(db.subjectQueries).toHaveLength(1);

    db.change();
    const after = subjects.lookup('u', 'j', 'f');
    await settle();
    // the lookup after the change did not join the query sent before it
    expect(db.subjectQueries).toHaveLength(2);
    db.subjectQueries[1]({ user: null, revoked: true, epoch: 1 });
    db.subjectQueries[0]({ user: null, revoked: false, epoch: 0 });
    expect(await after).toEqual({ user: null, revoked: true });
    expect(await before).toEqual({ user: null, revoked: false });

    expect(await subjects.lookup('u', 'j', 'f')).toEqual({ user: null, revoked: true });
    expect(db.subjectQueries).toHaveLength(2);
  });

  it('shares one query among concurrent misses of the same token', async () => {
    const db = scriptedStore();
    const subjects = accessTokenSubjects(db.store, { pollMs: 60_000, now: () => 0 });
    const lookups = [subjects.lookup('u', 'j', null), subjects.lookup('u', 'j', null)];
    await settle();
    expect(db.subjectQueries).toHaveLength(1);
    db.subjectQueries[0]({ user: null, revoked: false, epoch: 0 });
    expect(await Promise.all(lookups)).toEqual([
      { user: null, revoked: false },
      { user: null, revoked: false },
    ]);
  });
});
