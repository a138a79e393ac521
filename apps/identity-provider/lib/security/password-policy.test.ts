import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, MAX_PASSWORD_CHARACTERS } from './password-policy';

const policy = { minLength: 8 };

describe('password policy (NIST SP 800-63B)', () => {
  it('refuses short passwords, counting code points, and very long ones', async () => {
    expect(await checkPasswordPolicy('Xy7!q', policy)).toMatchObject({ ok: false, reason: 'too_short' });
    // 8 code points, 16 UTF-16 units: long enough by code points only
    expect((await checkPasswordPolicy('😀🐙🦊🌵🚲🎻🧩🪁', { minLength: 9 })).ok).toBe(false);
    expect(await checkPasswordPolicy('a'.repeat(MAX_PASSWORD_CHARACTERS + 1), policy)).toMatchObject({ ok: false, reason: 'too_long' });
    expect(await checkPasswordPolicy('ok', { minLength: 12 })).toMatchObject({ message: 'Use at least 12 characters.' });
  });

  it('refuses common and breached-looking passwords whatever their composition', async () => {
    for (const password of ['password', 'Password1!', 'qwertyuiop', '12345678', 'iloveyou2', 'P@ssw0rd123', 'aaaaaaaaaaaa']) {
      expect(await checkPasswordPolicy(password, policy), password).toMatchObject({ ok: false, reason: 'too_guessable' });
    }
  });

  it("refuses the user's own address, name and the service name", async () => {
    const context = { ...policy, email: 'grace.hopper@navy.example', name: 'Grace Hopper' };
    for (const password of ['gracehopper', 'grace.hopper@navy', 'identityprovider', 'Hopper2024!']) {
      expect(await checkPasswordPolicy(password, context), password).toMatchObject({ ok: false, reason: 'too_guessable' });
    }
  });

  it('accepts long passphrases without composition rules, and spaces and any script', async () => {
    for (const password of ['correct horse battery staple', 'tangerine-quarry-violin-mosaic', 'ein fröhlicher Kürbis tanzt', 'λευκό άλογο τρέχει γρήγορα']) {
      expect(await checkPasswordPolicy(password, { ...policy, email: 'someone@example.org' }), password).toEqual({ ok: true });
    }
  });
});
