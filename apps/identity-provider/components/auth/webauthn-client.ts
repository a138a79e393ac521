'use client';

import { startAuthentication, startRegistration, browserSupportsWebAuthn, browserSupportsWebAuthnAutofill } from '@simplewebauthn/browser';

export { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill };

/** One JSON call to the provider's interaction endpoints (same origin, CSRF token in the body). */
export async function postJson<T>(
  path: string,
  body: Record<string, unknown>,
): Promise<{ ok: true; data: T } | { ok: false; status: number; message: string }> {
  let response: Response;
  try {
    response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    // offline, or the page is navigating away (a password sign-in while the autofill request was starting)
    return { ok: false, status: 0, message: 'The provider could not be reached; try again' };
  }
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    return {
      ok: false,
      status: response.status,
      message: typeof data.error_description === 'string' ? data.error_description : 'Something went wrong; try again',
    };
  return { ok: true, data: data as T };
}

/**
 * A passkey sign-in: options from the provider, the browser's ceremony (a modal, or the autofill list of
 * the username field with `autofill`), then the assertion; resolves with where to go next.
 */
export async function signInWithPasskey(input: {
  csrf: string;
  purpose: 'passwordless' | 'second_factor';
  interaction?: string;
  returnTo?: string;
  autofill?: boolean;
}): Promise<{ redirect: string } | { error: string }> {
  const options = await postJson<Parameters<typeof startAuthentication>[0]['optionsJSON']>('/interaction/webauthn/options', {
    csrf: input.csrf,
    purpose: input.purpose,
  });
  if (!options.ok) return { error: options.message };
  let response;
  try {
    response = await startAuthentication({ optionsJSON: options.data, useBrowserAutofill: input.autofill === true });
  } catch {
    return { error: 'The passkey sign-in was cancelled or timed out' };
  }
  const result = await postJson<{ redirect: string }>('/interaction/webauthn/authenticate', {
    csrf: input.csrf,
    purpose: input.purpose,
    response,
    ...(input.interaction ? { interaction: input.interaction } : {}),
    ...(input.returnTo ? { return_to: input.returnTo } : {}),
  });
  return result.ok ? result.data : { error: result.message };
}

/** Registers a new passkey for the signed-in user. */
export async function registerPasskey(
  csrf: string,
  name: string | undefined,
): Promise<{ ok: true; recoveryCodes: string[] | null } | { ok: false; error: string }> {
  const options = await postJson<Parameters<typeof startRegistration>[0]['optionsJSON']>('/interaction/webauthn/options', { csrf, purpose: 'register' });
  if (!options.ok) return { ok: false, error: options.message };
  let response;
  try {
    response = await startRegistration({ optionsJSON: options.data });
  } catch {
    return { ok: false, error: 'The passkey was not created (cancelled, timed out, or already registered)' };
  }
  const result = await postJson<{ recovery_codes: string[] | null }>('/interaction/security/passkeys/register', { csrf, response, ...(name ? { name } : {}) });
  return result.ok ? { ok: true, recoveryCodes: result.data.recovery_codes } : { ok: false, error: result.message };
}
