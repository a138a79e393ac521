import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics';
import { createMetricsHandler, isLoopback } from './metrics-endpoint';

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return this;
  },
} as never;

/** A request as Node hands it over, from `remoteAddress`; the response records what was sent. */
function call(remoteAddress: string) {
  const sent: { status?: number } = {};
  const req = { method: 'GET', headers: {}, socket: { remoteAddress } } as unknown as IncomingMessage;
  const res = {
    writeHead(status: number) {
      sent.status = status;
      return this;
    },
    end() {
      return this;
    },
  } as unknown as ServerResponse;
  return { req, res, sent };
}

describe('metrics without credentials (item 15)', () => {
  const handler = createMetricsHandler({
    metrics: createMetrics({ registeredClientIds: () => new Set(['client-a']), defaultMetrics: false }),
    auth: {},
    sample: async () => {},
    log: silent,
  });

  it('serves loopback callers only: the exposition names clients', async () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const { req, res, sent } = call(address);
      await handler(req, res);
      expect(sent.status, address).toBe(200);
    }
    for (const address of ['203.0.113.5', '::ffff:198.51.100.1', '10.0.0.8', 'fe80::1']) {
      const { req, res, sent } = call(address);
      await handler(req, res);
      expect(sent.status, address).toBe(403);
    }
  });

  it('isLoopback', () => {
    expect(isLoopback('127.1.2.3')).toBe(true);
    expect(isLoopback(undefined)).toBe(false);
    expect(isLoopback('128.0.0.1')).toBe(false);
  });
});
