/**
 * A supabase-js client that sends this provider's access tokens to a Supabase project (third-party auth).
 * Typechecked with the tests (tests/tsconfig.json) and used by tests/supabase-rls.test.ts.
 *
 * The token must be one issued for the project's resource server (`resource=<its identifier>` at the
 * authorization and token endpoints): only those carry `role` and the audience Supabase checks.
 */
import { createClient, type SupabaseClient, type SupabaseClientOptions } from '@supabase/supabase-js';

export function supabaseWithProviderTokens(
  projectUrl: string,
  publishableKey: string,
  /** Returns a current access token, e.g. your OIDC client's (refreshing it with resource=<identifier> when it expires). */
  accessToken: () => Promise<string>,
  /** Anything else supabase-js takes (on Node 20: `realtime: { transport: ws }`, Node 22+ and browsers need nothing). */
  options: Omit<SupabaseClientOptions<'public'>, 'accessToken'> = {},
): SupabaseClient {
  // With `accessToken`, supabase-js sends that token as the Bearer of every request (REST, storage,
  // realtime) and never uses Supabase Auth; RLS then reads its claims: auth.jwt()->>'sub'.
  return createClient(projectUrl, publishableKey, { ...options, accessToken });
}
