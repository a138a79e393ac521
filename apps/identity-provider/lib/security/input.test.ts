import { describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { loadConfig } from '../env';
import { redirectUriProblem } from '../oidc/redirect-uris';
import { paramsFrom } from '../oidc/steps/parse-form';
import { parseAuditQuery } from '../admin/audit-api';
import { activityQuery } from '../analytics/query';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { neutralizedCell, toCsv } from './csv';

describe('CSV export cells (item 11)', () => {
  it('neutralises formulas whatever the separator, and leading control characters', () => {
    const hostile = ["x;=cmd|' /C calc'!A0;", '=HYPERLINK("http://evil")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx', '\nx', '  =1+1'];
    const csv = toCsv([hostile]);
    // read as a spreadsheet set to split on ";" would: no cell starts a formula (before, "=cmd..." did)
    for (const cell of (parseCsv(csv, { delimiter: ';', relax_quotes: true }) as string[][]).flat()) expect(cell).not.toMatch(/^=/);
    const [row] = parseCsv(csv, { relax_quotes: false }) as string[][];
    expect(row[0]).toBe("x;=cmd|' /C calc'!A0;"); // not a formula at its start: kept, and quoted
    for (const cell of row.slice(1)) expect(cell.startsWith("'")).toBe(true);
    expect(csv.startsWith('"')).toBe(true);
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('numbers stay numbers; objects become JSON; null is empty', () => {
    expect(neutralizedCell(-5)).toBe('-5');
    expect(neutralizedCell({ a: '=1' })).toBe('{"a":"=1"}');
    expect(neutralizedCell(null)).toBe('');
  });
});

describe('hostile values are refused before SQL (item 10)', () => {
  it('protocol parameters with control characters, overlong values, or repeated', () => {
    expect(() => paramsFrom(new URLSearchParams({ client_id: 'a\u0000b' }))).toThrow(/client_id" parameter contains control characters/);
    expect(() => paramsFrom(new URLSearchParams({ state: 'x'.repeat(9000) }))).toThrow(/too long/);
    expect(paramsFrom(new URLSearchParams({ scope: 'openid profile', redirect_uri: 'https://a.example/cb' })).get('scope')).toBe('openid profile');
  });

  it('admin audit filters: NUL, year 0000, zone ids and cursor ids past 2^53 are 400s naming the parameter', () => {
    const bad = (query: Record<string, string>) => {
      try {
        parseAuditQuery(new URLSearchParams(query));
        return null;
      } catch (error) {
        return (error as { parameter?: string }).parameter ?? 'threw';
      }
    };
    expect(bad({ client_id: 'x\u0000' })).toBe('client_id');
    expect(bad({ start: '0000-01-01T00:00:00Z' })).toBe('start');
    expect(bad({ end: '99999-01-01T00:00:00Z' })).toBe('end');
    expect(bad({ ip: 'fe80::1%eth0' })).toBe('ip');
    const cursor = (t: string, id: number) => Buffer.from(JSON.stringify([t, id])).toString('base64url');
    expect(bad({ cursor: cursor('2026-01-01T00:00:00.000Z', 2 ** 63) })).toBe('cursor');
    expect(bad({ cursor: cursor('0000-01-01T00:00:00.000Z', 5) })).toBe('cursor');
    expect(bad({ format: 'xlsx' })).toBe('format');
    expect(bad({ client_id: 'demo-spa', ip: '::1', start: '2026-01-01T00:00:00Z' })).toBeNull();
  });

  it('analytics filters and cursors the same way', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const schema = activityQuery(() => now);
    const refused = (query: Record<string, string>) => {
      const result = schema.safeParse(query);
      return result.success ? null : result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    };
    expect(refused({ client_id: 'a\u0000' })).toMatch(/^client_id /);
    expect(refused({ range: 'custom', start: '0000-01-01T00:00:00Z', end: '0000-01-02T00:00:00Z' })).toMatch(/years/);
    expect(refused({ range: 'custom', start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' })).toBe('end must be after start');
    expect(refused({ start: '2026-01-02T00:00:00Z' })).toBe('start is only allowed with range=custom');
    const cursor = (t: string, id: number) => Buffer.from(JSON.stringify([t, id])).toString('base64url');
    expect(refused({ cursor: cursor('0000-01-01T00:00:00.000000Z', 1) })).toMatch(/^cursor /);
    expect(refused({ cursor: cursor('2026-01-01T00:00:00.000000Z', 2 ** 63) })).toMatch(/^cursor /);
    const parsed = schema.parse({ range: '24h', cursor: cursor('2026-01-01T00:00:00.000000Z', 7) });
    expect(parsed.cursor).toEqual({ createdAt: '2026-01-01T00:00:00.000000Z', id: 7 });
    expect(parsed.range).toEqual({ preset: '24h', start: new Date('2026-11-30T00:00:00Z'), end: now });
  });

  it('one cursor format for every list: time to the microsecond, a row id or a text key', () => {
    const micro = '2026-01-01T00:00:00.123456Z';
    expect(decodeCursor(encodeCursor(micro, 7))).toEqual({ at: micro, key: 7 });
    expect(decodeCursor(encodeCursor(new Date(micro), 'client-a'))).toEqual({ at: '2026-01-01T00:00:00.123Z', key: 'client-a' });
    const raw = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const bad of [
      'garbage',
      raw(['2026-01-01T00:00:00Z']),
      raw(['2026-01-01 00:00:00Z', 1]),
      raw(['2026-01-01T00:00:00+01:00', 1]),
      raw(['2026-01-01T00:00:00.1234567Z', 1]),
      raw(['2026-01-01T00:00:00Z', 0]),
      raw(['2026-01-01T00:00:00Z', '']),
      raw(['2026-01-01T00:00:00Z', 'a\u0000']),
      raw(['2026-01-01T00:00:00Z', 'x'.repeat(201)]),
    ])
      expect(decodeCursor(bad), bad).toBeNull();
  });
});

describe('redirect URIs (item 14)', () => {
  const prod = { production: true };
  it('refuses script and local schemes, fragments, credentials, and plain http off loopback in production', () => {
    for (const uri of [
      'javascript:alert(1)',
      'data:text/html,x',
      'file:///etc/passwd',
      'https://a.example/cb#x',
      'https://u:p@a.example/cb',
      'http://app.example/cb',
      'myapp:/cb',
      'not a uri',
      'https://a.example/\u0000',
    ]) {
      expect(redirectUriProblem(uri, prod), uri).not.toBeNull();
    }
    for (const uri of [
      'https://app.example/cb',
      'http://127.0.0.1:8080/cb',
      'http://[::1]/cb',
      'http://localhost:5173/cb',
      'com.example.app:/oauth2redirect',
    ]) {
      expect(redirectUriProblem(uri, prod), uri).toBeNull();
    }
    expect(redirectUriProblem('http://app.example/cb', { production: false })).toBeNull();
    expect(redirectUriProblem('javascript:alert(1)', { production: false })).not.toBeNull();
  });
});

describe('configuration (item 14)', () => {
  const base = { SESSION_SECRET: 'k'.repeat(48), KEY_ENCRYPTION_SECRET: 'q'.repeat(48), DATA_DIR: '/tmp/idp-env-test' };
  it('ISSUER_URL may carry neither a query nor a fragment; an empty variable means its default', () => {
    expect(() => loadConfig({ ...base, ISSUER_URL: 'https://id.example.com/?x=1' })).toThrow(/ISSUER_URL/);
    expect(() => loadConfig({ ...base, ISSUER_URL: 'https://id.example.com/#f' })).toThrow(/ISSUER_URL/);
    expect(loadConfig({ ...base, DEMO_CLIENT: '' }).demoClient).toBe(true);
    expect(loadConfig({ ...base, ISSUER_URL: 'https://id.example.com' }).issuer).toBe('https://id.example.com');
  });
});
