-- identity.token_bitmaps had no callers: sealing builds its bitmaps inline with the same expression.
drop function if exists identity.token_bitmaps(integer[]);
