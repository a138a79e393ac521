-- Token analytics: unique users per set, each set reading only its own slice of the raw remainders' users.
--
-- Same signature, same numbers as identity.token_unique_counts in 20261127200000_token_unique_counts_per_set.sql.
-- There, the raw remainders' (set, ordinal) pairs were one array that every set unnested and filtered whole:
-- with a full hour of raw events at 10M (about 10,000 pairs), 1-2 ms per set, 15 ms for the dashboard's eleven
-- sets. Here the pairs are ordered by set when gathered, and each set unnests its slice only.

create or replace function identity.token_unique_counts(
  p_start timestamptz, p_end timestamptz, p_user_id uuid, p_all boolean, p_clients text[]
)
returns table (all_clients boolean, client_id text, users bigint)
language plpgsql stable rows 11 set jit = off set work_mem = '64MB' set plan_cache_mode = force_generic_plan as $fn$
#variable_conflict use_column
declare
  cl text[] := array(select distinct x from unnest(p_clients) x where x is not null);
  nn integer := coalesce(cardinality(array(select distinct x from unnest(p_clients) x where x is not null)), 0);
  with_null boolean := p_clients is not null and array_position(p_clients, null) is not null;
  days timestamptz[];
  hours timestamptz[];
  rlo timestamptz[];
  rhi timestamptz[];
  weeks timestamptz[];
  -- chunks of 65536 ordinals that exist; an absent chunk reads as zeros
  nch integer := coalesce((select max(o.ordinal) from identity.token_user_ordinals o), 0) / 65536 + 1;
  zero bit varying := 0::bit(65536);
  -- raw remainders, read once for every set: (set, ordinal) pairs, and the users without an ordinal yet
  r_kix integer[];
  r_ord integer[];
  u_kix integer[];
  u_uid uuid[];
  k integer;
  kc text;
  chunks bit varying[];
  b bit varying;
  extra bigint;
  -- each set's slice of r_ord (index k + 1 for set k)
  r_first integer[];
  r_count integer[];
begin
  if p_user_id is null then
    select array_agg(t.bucket) filter (where t.grain = 'd'), array_agg(t.bucket) filter (where t.grain = 'h'),
           array_agg(t.lo) filter (where t.grain = 'raw'), array_agg(t.hi) filter (where t.grain = 'raw')
      into days, hours, rlo, rhi
      from identity.token_pieces(array[p_start], array[p_end], 'd', 'h') t;
  elsif p_start < p_end then
    rlo := array[p_start];
    rhi := array[p_end];
  end if;
  -- whole weeks (all 7 days sealed and clean) are read from the weekly bitmaps, the other days from their own
  if days is not null then
    weeks := array(select date_trunc('week', d, 'UTC') from unnest(days) d group by 1 having count(*) = 7);
    days := array(select d from unnest(days) d where date_trunc('week', d, 'UTC') <> all(weeks));
  end if;

  -- sets: 0 all clients, 1..nn the clients of cl, nn + 1 the events without a client
  with rl as materialized (
    select distinct l.client_id, l.user_id
      from unnest(rlo, rhi) w(lo, hi)
      cross join lateral (
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is null and l.created_at >= w.lo and l.created_at < w.hi
           and l.user_id is not null and (l.action like 'token.%' or l.action = 'client.auth_failed')
        union all
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is not null and l.user_id = p_user_id and l.created_at >= w.lo and l.created_at < w.hi
           and (l.action like 'token.%' or l.action = 'client.auth_failed')
        offset 0
      ) l
     where p_all or l.client_id = any(cl) or (with_null and l.client_id is null)
  ),
  -- one ordinal look-up per user (primary key); users not sealed yet have none
  ro as materialized (
    select d.user_id, o.ordinal as ord
      from (select distinct rl.user_id from rl) d
      left join (select o.user_id, o.ordinal from identity.token_user_ordinals o
                  where o.user_id = any(array(select distinct rl.user_id from rl))) o on o.user_id = d.user_id
  ),
  y as (
    select 0 as kix, rl.user_id from rl where p_all
    union all
    select array_position(cl, rl.client_id), rl.user_id from rl where nn > 0 and rl.client_id = any(cl)
    union all
    select nn + 1, rl.user_id from rl where with_null and rl.client_id is null
  )
  select array_agg(y.kix order by y.kix) filter (where ro.ord is not null), array_agg(ro.ord order by y.kix) filter (where ro.ord is not null),
         array_agg(y.kix) filter (where ro.ord is null), array_agg(y.user_id) filter (where ro.ord is null)
    into r_kix, r_ord, u_kix, u_uid
    from y join ro on ro.user_id = y.user_id;
  -- where each set's pairs start (1-based) in r_ord, and how many there are
  select array_agg(coalesce(n.first, 1) order by s.k), array_agg(coalesce(n.c, 0) order by s.k)
    into r_first, r_count
    from generate_series(0, nn + 1) s(k)
    left join (select x.kk, min(x.i)::integer as first, count(*)::integer as c
                 from unnest(r_kix) with ordinality x(kk, i) group by x.kk) n on n.kk = s.k;

  for k in select x from generate_series(0, nn + 1) x
            where (x = 0 and p_all) or (x between 1 and nn) or (x = nn + 1 and with_null) loop
    kc := case when k between 1 and nn then cl[k] end;
    -- the set's bitmaps, OR-ed per chunk: days and weeks (for all clients also the sealed hours of partial
    -- days; a client's partial days come from its hour lists below)
    chunks := array(
      select coalesce(m.m, zero)
        from generate_series(0, nch - 1) c(c)
        left join (
          select s.chunk, bit_or(s.members) as m
            from (select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and u.grain = 'd' and u.bucket = any(days) and u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and u.grain = 'w' and u.bucket = any(weeks) and u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and u.grain = 'h' and u.bucket = any(hours) and u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k > 0 and kc is not null and u.client_id = kc and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k > 0 and kc is not null and u.client_id = kc and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = nn + 1 and u.client_id is null and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = nn + 1 and u.client_id is null and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients) s
           group by s.chunk
        ) m on m.chunk = c.c
       order by c.c);
    b := chunks[1];
    for c in 2 .. nch loop
      b := b || chunks[c];
    end loop;

    -- users of the other pieces not in the bitmaps: a client's hour lists, and the raw remainders
    select count(*) into extra
      from (select distinct z.ord
              from (select (v >> 32)::integer as ord
                      from identity.token_rollup r cross join lateral unnest(r.all_list) v
                     where k > 0 and kc is not null and r.client_id = kc and r.grain = 'h' and r.bucket = any(hours) and not r.all_clients
                    union all
                    select (v >> 32)::integer
                      from identity.token_rollup r cross join lateral unnest(r.all_list) v
                     where k = nn + 1 and r.client_id is null and r.grain = 'h' and r.bucket = any(hours) and not r.all_clients
                    union all
                    select x.o from unnest(r_ord[r_first[k + 1]:r_first[k + 1] + r_count[k + 1] - 1]) x(o)) z
             where z.ord >= nch * 65536 or get_bit(b, z.ord) = 0) q;

    all_clients := k = 0;
    client_id := kc;
    users := bit_count(b) + extra + coalesce((select count(distinct x.u) from unnest(u_kix, u_uid) x(kk, u) where x.kk = k), 0);
    return next;
  end loop;
end
$fn$;
