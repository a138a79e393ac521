/**
 * The password policy (NIST SP 800-63B 5.1.1.2): a minimum length (PASSWORD_MIN_LENGTH, default 8), long
 * passwords allowed (up to MAX_PASSWORD_CHARACTERS, far past the 64 NIST asks for), no composition rules,
 * and a blocklist: passwords that zxcvbn-ts rates below MIN_SCORE against its dictionaries of common and
 * leaked passwords, words, names and keyboard patterns, plus context words (the user's address and name,
 * this service's name). Every place that sets a password calls checkPasswordPolicy.
 *
 * The dictionaries (a few MB) are imported on the first check, not at start: the token endpoint and the
 * fast path never load them.
 */
import type { OptionsType, ZxcvbnFactory } from '@zxcvbn-ts/core';

/** NIST: at least 64 must be allowed. Beyond this the form field is refused before any hashing. */
export const MAX_PASSWORD_CHARACTERS = 256;
export const DEFAULT_MIN_PASSWORD_LENGTH = 8;
/** zxcvbn score 0-4; 3 = "safely unguessable: moderate protection from an offline slow-hash scenario". */
export const MIN_SCORE = 3;
const ZXCVBN_MAX_CHARACTERS = 40;
/** Words about this service itself, which an attacker tries first. */
const SERVICE_WORDS = ['identity provider', 'identityprovider', 'identity', 'provider', 'idp', 'openid', 'oidc', 'login', 'signin', 'password'];

export type PasswordPolicyResult = { ok: true } | { ok: false; reason: 'too_short' | 'too_long' | 'too_guessable'; message: string };

export interface PasswordPolicyContext {
  /** PASSWORD_MIN_LENGTH (config.passwordMinLength). */
  minLength: number;
  email?: string | null;
  name?: string | null;
  /** Any other words an attacker would try for this account. */
  words?: readonly string[];
}

let checker: Promise<ZxcvbnFactory> | undefined;

function loadChecker(): Promise<ZxcvbnFactory> {
  checker ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    const options: OptionsType = {
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
      // bounded CPU per check (it runs on the event loop): the first ZXCVBN_MAX_CHARACTERS are rated, with
      // few l33t variants; a password strong in its first 40 characters is strong
      maxLength: ZXCVBN_MAX_CHARACTERS,
      l33tMaxSubstitutions: 10,
    };
    return new ZxcvbnFactory(options);
  })();
  checker.catch(() => (checker = undefined));
  return checker;
}

/** The words of an address and a name: "ada.lovelace@example.org" gives ada, lovelace, example... */
function contextWords(context: PasswordPolicyContext): string[] {
  const words = new Set<string>(SERVICE_WORDS);
  const add = (value: string | null | undefined) => {
    if (!value) return;
    const lower = value.toLowerCase();
    words.add(lower);
    for (const part of lower.split(/[^\p{L}\p{N}]+/u)) if (part.length >= 3) words.add(part);
  };
  add(context.email);
  add(context.email?.split('@')[0]);
  add(context.name);
  for (const word of context.words ?? []) add(word);
  return [...words];
}

/**
 * Whether `password` may be set. Lengths count Unicode code points of the NFKC form (how scrypt sees it);
 * the message is for the person choosing the password.
 */
export async function checkPasswordPolicy(password: string, context: PasswordPolicyContext): Promise<PasswordPolicyResult> {
  const length = [...password.normalize('NFKC')].length;
  if (length < context.minLength) return { ok: false, reason: 'too_short', message: `Use at least ${context.minLength} characters.` };
  if (length > MAX_PASSWORD_CHARACTERS) return { ok: false, reason: 'too_long', message: `Use at most ${MAX_PASSWORD_CHARACTERS} characters.` };
  const result = (await loadChecker()).check(password, contextWords(context));
  if (result.score >= MIN_SCORE) return { ok: true };
  const hint = result.feedback.warning ?? result.feedback.suggestions[0] ?? null;
  return {
    ok: false,
    reason: 'too_guessable',
    message: `This password is too easy to guess${hint ? `: ${hint.replace(/\.$/, '')}` : ''}. A few unrelated words make a strong, memorable password.`,
  };
}
