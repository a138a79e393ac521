-- Token analytics: the dashboard's statements run with generic plans (planned once per session).
--
-- Under the default plan_cache_mode, PL/pgSQL re-plans a statement with parameters for its first five runs
-- in a session and keeps doing so whenever the generic plan's estimate looks worse than the custom plans',
-- which the dashboard's range-dependent statements often do: measured at 10M events, each warm call spent
-- about 10 ms planning (7 days: 69 -> 59 ms; 90 days: 84 -> 71 ms; one client: 30 -> 21 ms), and cold
-- connections paid it on every early call. Partitions are still pruned at run time. A function's SET applies
-- to the functions it calls, so this reaches token_blocks, token_cells, token_top_users and the rest.
alter function identity.token_dashboard(timestamptz, timestamptz, text, uuid, text, text, integer) set plan_cache_mode = force_generic_plan;
alter function identity.get_token_stats(timestamptz, timestamptz, text) set plan_cache_mode = force_generic_plan;
