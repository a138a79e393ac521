import { describe, expect, it } from 'vitest';
import { isPermanentFailure } from './failure';
import { AUDIT_DETAILS_LIMITS, sanitizeAuditEvent as sanitizeTyped, truncateUtf8, type SanitizableAuditEvent } from './sanitize';

const sanitizeAuditEvent = (event: SanitizableAuditEvent) => sanitizeTyped(event);

describe('sanitizeAuditEvent', () => {
  it('returns an ordinary event untouched (same object)', () => {
    const event = { action: 'token.issued.client_credentials', clientId: 'svc', scopes: ['api.read'], details: { jti: 'j', at: new Date(0), n: 1 } };
    expect(sanitizeAuditEvent(event)).toBe(event);
  });

  it('bounds by UTF-8 bytes without splitting a character, and lists what it cut', () => {
    const out = sanitizeAuditEvent({ action: 'client.auth_failed', clientId: '€'.repeat(200), userAgent: '😀'.repeat(300) });
    expect(Buffer.byteLength(out.clientId!)).toBeLessThanOrEqual(256);
    expect(out.clientId).toBe('€'.repeat(85)); // 3 bytes each
    expect(out.userAgent).toBe('😀'.repeat(128)); // 4 bytes each, 512
    expect(out.details).toEqual({ truncated: ['client_id', 'user_agent'] });
  });

  it('bounds and cleans the audience like the other columns', () => {
    const out = sanitizeAuditEvent({ action: 'token.issued.client_credentials', audience: `https://api.example.com/\u0000${'a'.repeat(2000)}` });
    expect(Buffer.byteLength(out.audience!)).toBe(1024);
    expect(out.audience!.startsWith('https://api.example.com/a')).toBe(true);
    expect(out.details).toEqual({ truncated: ['audience'], sanitized: ['audience'] });
    const plain = { action: 'token.issued.client_credentials', audience: 'https://a.example https://b.example' };
    expect(sanitizeAuditEvent(plain)).toBe(plain);
  });

  it('removes NUL and lone surrogates everywhere, keys included, and is idempotent', () => {
    const out = sanitizeAuditEvent({ action: 'a', requestId: 'r\u0000', details: { 'k\u0000': ['\ud800x', { y: 'z\u0000' }] } });
    expect(out.requestId).toBe('r');
    expect(out.details).toEqual({ k: ['\ufffdx', { y: 'z' }], sanitized: ['request_id', 'details.k', 'details.k[0]', 'details.k[1].y'] });
    expect(JSON.stringify(out)).not.toMatch(/\\u0000|\\ud800/);
    const again = sanitizeAuditEvent(JSON.parse(JSON.stringify(out)));
    expect(again).toEqual(JSON.parse(JSON.stringify(out)));
  });

  it('bounds nesting, entries and the total, and serialises bigints', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10; i++) deep = { d: deep };
    const out = sanitizeAuditEvent({ action: 'a', details: { deep, many: Array.from({ length: 500 }, (_, i) => i), big: 2n ** 70n } });
    expect(JSON.stringify(out)).toBeTruthy();
    expect((out.details!.many as unknown[]).length).toBe(AUDIT_DETAILS_LIMITS.entries);
    expect(out.details!.big).toBe(String(2n ** 70n));
    expect(out.details!.truncated).toEqual(expect.arrayContaining(['details.many']));
  });

  it('truncateUtf8 keeps short strings as they are', () => {
    expect(truncateUtf8('abc', 3)).toBe('abc');
    expect(truncateUtf8('aé', 2)).toBe('a');
  });
});

describe('isPermanentFailure', () => {
  it('the rows at fault: data, size, constraint, programming, internal errors', () => {
    for (const code of ['22P02', '22021', '23502', '23505', '42P01', '54000', '0A000', 'P0001', 'XX000']) expect(isPermanentFailure({ code }), code).toBe(true);
  });
  it('everything else is retried: connection, shutdown, timeouts, serialization, resources, socket errors', () => {
    for (const code of [
      '08006',
      '57P01',
      '57014',
      '40001',
      '40P01',
      '53300',
      '55P03',
      '25006',
      'ECONNREFUSED',
      'ECONNRESET',
      'EPIPE',
      'CONNECT_TIMEOUT',
      undefined,
    ]) {
      expect(isPermanentFailure(code ? { code } : new Error('timeout')), String(code)).toBe(false);
    }
  });
});
