import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Facts about the request being handled that only the core knows, noted by the audit decorator and
 * read back by the HTTP edge once the response is ready. Today: whether the request was a refresh-token
 * grant (the token endpoint parses the body; the edge must not read it a second time).
 */
export interface RequestScope {
  refreshGrant: boolean;
}

// One store per process: the custom server and Next's separately bundled route handlers each load their
// own copy of this module, but the container (and with it the audit decorator) is shared.
const KEY = Symbol.for('identity-provider.request-scope');
type Holder = { [KEY]?: AsyncLocalStorage<RequestScope> };
const storage: AsyncLocalStorage<RequestScope> = ((globalThis as Holder)[KEY] ??= new AsyncLocalStorage<RequestScope>());

/** Runs `work` with a fresh scope that currentRequestScope() returns anywhere below it. */
export function withRequestScope<T>(work: (scope: RequestScope) => Promise<T>): Promise<T> {
  const scope: RequestScope = { refreshGrant: false };
  return storage.run(scope, () => work(scope));
}

/** The scope of the request being handled, or undefined outside one (CLI, maintenance, tests). */
export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}
