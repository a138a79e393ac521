-- Local demo data only (`supabase db reset`). Never applied by the provider's migration runner.
-- A public demo client for a provider running on http://localhost:3000. Users are not seeded here:
-- passwords must be hashed by the provider, so create them with `npm run idp -- users:create`.
insert into identity.oauth_clients (client_id, name, redirect_uris, post_logout_redirect_uris, grant_types, scopes, token_endpoint_auth_method, first_party)
values ('demo-spa', 'Demo relying party', '{http://localhost:3000/demo/callback}', '{http://localhost:3000/demo}',
        '{authorization_code,refresh_token}', '{openid,profile,email,offline_access}', 'none', true)
on conflict (client_id) do nothing;
