import type { OAuthClient } from './domain';
import { describe, expect, it } from 'vitest';
import { cachedClientRegistry } from './clients';
import { PollingSnapshot } from './polling-snapshot';
import type { ClientSource } from './store';

/** A source whose next answer the test decides: a value, a failure, or a hang until released. */
function controllableSource() {
  let calls = 0;
  let mode: { kind: 'value'; value: number } | { kind: 'fail' } | { kind: 'hang' } = { kind: 'value', value: 1 };
  const hung: (() => void)[] = [];
  return {
    get calls() {
      return calls;
    },
    set(next: typeof mode) {
      mode = next;
    },
    release: () => hung.splice(0).forEach((go) => go()),
    load: async () => {
      calls++;
      const current = mode;
      if (current.kind === 'fail') throw new Error('connection refused');
      if (current.kind === 'hang') await new Promise<void>((ok) => hung.push(ok));
      return current.kind === 'value' ? current.value : 1;
    },
  };
}

describe('PollingSnapshot', () => {
  const timing = { checkEveryMs: 1000, maxStaleMs: 60_000, waitMs: 20 };

  it('serves the last good value while a check hangs or fails, within maxStaleMs; one check at a time', async () => {
    let t = 0;
    const source = controllableSource();
    const snapshot = new PollingSnapshot(source.load, { ...timing, now: () => t });
    expect(await snapshot.get()).toBe(1);

    source.set({ kind: 'hang' });
    t = 1000;
    // the check is due and hangs (a locked table): the caller gets the old value after waitMs, not after the lock
    expect(await snapshot.get()).toBe(1);
    expect(await snapshot.get()).toBe(1);
    expect(source.calls).toBe(2); // the hanging check is shared, never doubled
    source.release();
    await snapshot.refresh();
    // failing checks: still the last good value, until it is maxStaleMs old
    source.set({ kind: 'fail' });
    t = 59_000;
    expect(await snapshot.get()).toBe(1);
    expect(source.calls).toBe(3);
    expect(snapshot.health()).toMatchObject({ loaded: true, usable: true });
  });

  it('past maxStaleMs a failing check fails the caller, and health says unusable', async () => {
    let t = 0;
    const source = controllableSource();
    const errors: unknown[] = [];
    const snapshot = new PollingSnapshot(source.load, { ...timing, now: () => t, onError: (e) => errors.push(e) });
    await snapshot.get();
    source.set({ kind: 'fail' });
    t = 30_000;
    expect(await snapshot.get()).toBe(1);
    t = 60_001;
    await expect(snapshot.get()).rejects.toThrow('connection refused');
    expect(snapshot.health()).toMatchObject({ loaded: true, usable: false, ageMs: 60_001 });
    expect(errors.length).toBeGreaterThanOrEqual(2);
    // the database is back: the next check restores it
    source.set({ kind: 'value', value: 2 });
    expect(await snapshot.get()).toBe(2);
    expect(snapshot.health()).toMatchObject({ usable: true, ageMs: 0 });
  });

  it('lookups that miss check again at most every 250 ms', async () => {
    let t = 0;
    const source = controllableSource();
    const snapshot = new PollingSnapshot(source.load, { ...timing, now: () => t });
    await snapshot.get();
    const first = snapshot.refreshAfterMiss();
    expect(await first).toBe(1);
    t = 250;
    expect(snapshot.refreshAfterMiss()).toBeNull();
    expect(source.calls).toBe(2);
    t = 251;
    source.set({ kind: 'value', value: 2 });
    expect(await snapshot.refreshAfterMiss()).toBe(2);
    expect(source.calls).toBe(3);
  });

  it('the first load is awaited and its failure surfaces', async () => {
    const source = controllableSource();
    source.set({ kind: 'fail' });
    const snapshot = new PollingSnapshot(source.load, { ...timing, now: () => 0 });
    await expect(snapshot.get()).rejects.toThrow('connection refused');
    expect(snapshot.health()).toEqual({ loaded: false, ageMs: null, usable: false });
  });
});

describe('cachedClientRegistry under a locked table', () => {
  it('answers known clients from memory while the fingerprint query hangs', async () => {
    let t = 0;
    let hang = false;
    const waiting: (() => void)[] = [];
    const client = { clientId: 'known', redirectUris: ['https://app.example/cb'] } as unknown as OAuthClient;
    const queries = {
      version: async () => {
        if (hang) await new Promise<void>((ok) => waiting.push(ok));
        return 'v1';
      },
      list: async () => [client],
    } satisfies ClientSource;
    const registry = cachedClientRegistry(queries, { checkEveryMs: 2000, waitMs: 20, now: () => t });
    expect(await registry.get('known')).toBe(client);
    hang = true;
    t = 10_000;
    // before: every request past the interval awaited the refresh, i.e. the lock (about 24 s in the issue)
    expect(await registry.get('known')).toBe(client);
    expect(await registry.get('known')).toBe(client);
    expect(waiting.length).toBe(1);
    expect(registry.health()).toMatchObject({ usable: true });
    waiting.splice(0).forEach((go) => go());
  });
});
