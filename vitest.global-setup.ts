import { prepareTestTemplates } from '@idp/database-identity/testing';

/**
 * Once per run, before any worker: the migrated templates test databases start from (embedded always;
 * Postgres when TEST_DATABASE_URL is set, or for the e2e suites at their default server).
 */
export default async function setup(): Promise<void> {
  await prepareTestTemplates({ postgresUrl: process.env.TEST_DATABASE_URL ?? (await defaultServerIfUp()) });
}

/** The e2e suites' default Postgres (tests/support/oidc.ts), when it answers. */
async function defaultServerIfUp(): Promise<string | undefined> {
  const url = 'postgres://postgres@127.0.0.1:5432/test';
  const { default: postgres } = await import('postgres');
  const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await probe`select 1`;
    return url;
  } catch {
    return undefined;
  } finally {
    await probe.end({ timeout: 1 });
  }
}
