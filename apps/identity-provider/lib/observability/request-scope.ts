/**
 * Facts about a request that only the core knows, noted by the audit decorator and taken back by the
 * HTTP edge once the response is ready. Today: whether the request was a refresh-token grant (the token
 * endpoint parses the body; the edge must not read it a second time). Keyed by request id, which every
 * audit event carries: an AsyncLocalStorage would do the same but switches on promise hooks for every
 * promise in the process, which cost a quarter of a token request's CPU.
 */
const KEY = Symbol.for('identity-provider.refresh-requests');
type Holder = { [KEY]?: Set<string> };
// shared by the server's and Next's copies of this module, like the container
const refreshRequests: Set<string> = ((globalThis as Holder)[KEY] ??= new Set<string>());

export function noteRefreshGrant(requestId: string): void {
  refreshRequests.add(requestId);
}

/** Whether the request was a refresh grant; forgets it (the edge asks once, when the request ends). */
export function takeRefreshGrant(requestId: string): boolean {
  return refreshRequests.delete(requestId);
}
