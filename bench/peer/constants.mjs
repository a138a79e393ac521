// Shared between the peer server and bench/run.mjs (kept apart so importing it starts no server).
export const PEER_CLIENT = Object.freeze({ id: 'bench-client', secret: 'bench-client-secret-0123456789abcdef' });
export const PEER_RESOURCE = 'urn:bench:api';
// an RS256 API beside the ES256 default, requested with resource= (RFC 8707), as ours is
export const PEER_RS256_RESOURCE = 'urn:bench:api-rs256';
