import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics';

describe('signing key metrics', () => {
  it('counts keys per state and algorithm, with the seconds to rotation and to the successor', async () => {
    const metrics = createMetrics({ registeredClientIds: () => new Set(), defaultMetrics: false });
    const now = Date.parse('2031-01-01T00:00:00Z');
    const initial = (await metrics.render()).body;
    // every fixed series exists from the start (alerts need a sample)
    expect(initial).toMatch(/^idp_signing_keys\{state="active",alg="ES256"\} 0$/m);
    expect(initial).not.toMatch(/^idp_signing_key_rotation_due_seconds/m);

    metrics.setSigningKeys(
      [
        { alg: 'ES256', state: 'next', activatesAt: new Date(now + 4500_000) },
        { alg: 'ES256', state: 'active', activatesAt: new Date(now - 86_400_000) },
        { alg: 'RS256', state: 'active', activatesAt: new Date(now - 1000) },
        { alg: 'RS256', state: 'retiring', activatesAt: new Date(now - 9e9) },
        { alg: 'XX', state: 'active', activatesAt: new Date(now) },
      ],
      2 * 86_400,
      now,
    );
    const body = (await metrics.render()).body;
    expect(body).toMatch(/^idp_signing_keys\{state="next",alg="ES256"\} 1$/m);
    expect(body).toMatch(/^idp_signing_keys\{state="active",alg="RS256"\} 1$/m);
    expect(body).toMatch(/^idp_signing_keys\{state="retiring",alg="RS256"\} 1$/m);
    expect(body).toMatch(/^idp_signing_key_rotation_due_seconds\{alg="ES256"\} 86400$/m);
    expect(body).toMatch(/^idp_signing_key_rotation_due_seconds\{alg="RS256"\} 172799$/m);
    expect(body).toMatch(/^idp_signing_key_successor_seconds\{alg="ES256"\} 4500$/m);
    expect(body).not.toMatch(/idp_signing_key_successor_seconds\{alg="RS256"\}/);
    expect(body).not.toContain('XX');
  });
});
