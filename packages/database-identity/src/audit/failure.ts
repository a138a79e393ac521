/**
 * Why an insert failed decides what the audit writer does with the rows: a transient failure (the database
 * is unreachable, restarting, overloaded, timed out, or the transaction lost a race) is retried later with
 * the rows kept (spool); a permanent one (the rows themselves are refused) would fail the same way forever,
 * so the offending rows are isolated and dead-lettered instead.
 *
 * Permanent: SQLSTATE classes
 *   21 cardinality violation, 22 data exception (bad uuid/inet/timestamp, untranslatable character, invalid
 *   JSON), 23 integrity constraint violation, 42 syntax error or access rule violation, 54 program limit
 *   exceeded (index row too large, too many columns), 0A feature not supported, 2F/38/39 routine
 *   exceptions, P0 PL/pgSQL raise (the rollup trigger), XX internal error (includes data/index corruption).
 *   XX is the one judgement call: retrying an internal error forever is the very failure this guards
 *   against, and a dead-lettered event is kept with its error, not lost.
 * Transient: every other SQLSTATE (08 connection, 40 serialization/deadlock, 53 insufficient resources,
 *   55 lock not available, 57 admin shutdown/statement timeout/cannot connect now, 58 system I/O, 25 read-only
 *   transaction after a failover, 28/3D credentials or database missing: configuration, not the rows), and
 *   every error without one: socket errors (ECONNREFUSED, ECONNRESET, EPIPE), driver time-outs and closed
 *   connections (postgres.js CONNECT_TIMEOUT, CONNECTION_CLOSED...).
 */
const PERMANENT_CLASSES = new Set(['21', '22', '23', '42', '54', '0A', '2F', '38', '39', 'P0', 'XX']);

/** The SQLSTATE of a database error, or null (socket, driver or programming errors have none). */
export function sqlState(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  // five characters, and not a Node errno code that happens to be five (EPIPE, EPERM): no SQLSTATE class starts with E
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : null;
}

export function isPermanentFailure(error: unknown): boolean {
  const state = sqlState(error);
  return state !== null && PERMANENT_CLASSES.has(state.slice(0, 2));
}
