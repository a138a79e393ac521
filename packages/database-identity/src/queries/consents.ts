import type { Queryable } from '../driver';

export function consentQueries(db: Queryable) {
  return {
    /** Scopes the user has granted the client; [] when none. */
    async find(userId: string, clientId: string): Promise<string[]> {
      const [row] = await db.query<{ scopes: string[] }>(`select scopes from identity.consents where user_id = $1 and client_id = $2`, [userId, clientId]);
      return row?.scopes ?? [];
    },

    /**
     * Records consent. Consent only widens: the stored set becomes the union of what was granted before
     * and `scopes` (sorted, without duplicates), in one statement so concurrent grants cannot lose scopes.
     */
    async grant(userId: string, clientId: string, scopes: string[]): Promise<void> {
      await db.query(
        `insert into identity.consents as c (user_id, client_id, scopes)
         values ($1, $2, array(select distinct s from unnest($3::text[]) as s order by s))
         on conflict (user_id, client_id) do update
           set scopes = array(select distinct s from unnest(c.scopes || excluded.scopes) as s order by s),
               updated_at = now()`,
        [userId, clientId, scopes],
      );
    },
  };
}

export type ConsentQueries = ReturnType<typeof consentQueries>;
