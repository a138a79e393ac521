import type { AuditEvent } from '../audit';

/** What a grant hands back to the token endpoint: the JSON body and the events to audit on success. */
export interface GrantResult {
  body: Record<string, unknown>;
  audit: Omit<AuditEvent, 'clientId' | 'grantType' | 'ip' | 'userAgent' | 'requestId'>[];
}
