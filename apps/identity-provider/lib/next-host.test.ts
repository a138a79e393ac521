import { describe, expect, it } from 'vitest';
import { customServerIsHost, installContainer, type Container } from './container';
import { startOnNextHost } from './next-host';

describe('instrumentation under the custom server', () => {
  it('stands back when server.ts installed the container: no second container, no second maintenance loop', async () => {
    let started = 0;
    const container = { startMaintenance: () => (started++, () => {}) } as unknown as Container;
    expect(customServerIsHost()).toBe(false);
    installContainer(Promise.resolve(container));
    expect(customServerIsHost()).toBe(true);
    await startOnNextHost();
    expect(started).toBe(0);
  });
});
