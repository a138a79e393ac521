// Shared between the peer server and bench/run.mjs (kept apart so importing it starts no server).
export const PEER_CLIENT = Object.freeze({ id: 'bench-client', secret: 'bench-client-secret-0123456789abcdef' });
export const PEER_RESOURCE = 'urn:bench:api';
