import { describe, expect, it } from 'vitest';
import { randomClientId } from './secrets';

describe('randomClientId', () => {
  it('is 22 URL-safe characters that never start with - or _ (one in 32 raw base64url ids would)', () => {
    const ids = Array.from({ length: 2000 }, randomClientId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
