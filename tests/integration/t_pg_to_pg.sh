#!/usr/bin/env bash
# PostgreSQL -> PostgreSQL: full and incremental syncs and their modifiers,
# checked on the rows a user would find in the destination.
. "$(dirname "$0")/lib.sh"

SRC=$(newdb src)
DST=$(newdb dst)
q src "
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users SELECT i, 'user ' || i, 'u' || i || '@example.com' FROM generate_series(1, 100) i;
CREATE TABLE orders (id bigint PRIMARY KEY, user_id int, amount numeric(10,2),
                     updated_at timestamptz NOT NULL);
INSERT INTO orders SELECT i, 1 + i % 100, i * 1.5,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute'
  FROM generate_series(1, 500) i;
CREATE TABLE events (eid int NOT NULL, kind text, at timestamptz);
INSERT INTO events SELECT i, 'k' || (i % 3), timestamptz '2024-02-01 00:00+00' + i * interval '1 hour'
  FROM generate_series(1, 10) i;
" >/dev/null

U_COLS="id, name, email"
O_COLS="id, user_id, amount, updated_at"
same_users() { assert_eq "$(pg_sum src users "$U_COLS")" "$(pg_sum dst "${1:-public}.users" "$U_COLS")" "${2:-users: destination equals source}"; }
same_orders() { assert_eq "$(pg_sum src orders "$O_COLS")" "$(pg_sum dst "${1:-public}.orders" "$O_COLS")" "${2:-orders: destination equals source}"; }

run ferry source add shop --type postgres --set url="$SRC" --set tables=users,orders \
	--set cursor.orders=updated_at
run ferry dest add dw --url "$DST"

# ---------------------------------------------------------------- full
note "first full sync"
run ferry sync shop dw --full --json
R=$OUT
assert_eq "object" "$(jf "$R" 'type')" "sync --json prints one JSON object"
assert_eq 1 "$(printf '%s' "$R" | jq -s 'length')" "sync --json prints exactly one JSON value on stdout"
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq full "$(jf "$R" '.mode')"
assert_eq null "$(jf "$R" '.error')"
assert_match "$(jf "$R" '.job_id')" '^[0-9]+$' "job_id is a number"
assert_match "$(jf "$R" '.duration_ms')" '^[0-9]+$' "duration_ms is a number"
assert_eq "orders,users" "$(jf "$R" '[.streams[].name] | sort | join(",")')" "both streams reported"
assert_eq users "$(jf "$R" '.streams[] | select(.name == "users") | .table')" "destination table of users"
assert_eq 100 "$(jf "$R" '.streams[] | select(.name == "users") | .read')"
assert_eq 500 "$(jf "$R" '.streams[] | select(.name == "orders") | .read')"
assert_eq 0 "$(jf "$R" '.streams[] | select(.name == "users") | .deleted')"
same_users
same_orders
assert_contains "$(pg_columns dst public users)" "_ferry_synced_at" "users has _ferry_synced_at"
assert_contains "$(pg_columns dst public orders)" "_ferry_synced_at" "orders has _ferry_synced_at"
assert_eq 0 "$(q dst 'SELECT count(*) FROM users WHERE _ferry_synced_at IS NULL')" "_ferry_synced_at is set on every row"
assert_eq id "$(q dst "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                    WHERE i.indrelid = 'public.users'::regclass AND i.indisprimary")" "primary key carried over"
assert_eq "numeric(10,2)" "$(q dst "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                    WHERE attrelid = 'public.orders'::regclass AND attname = 'amount'")" "column types carried over"
assert_eq 0 "$(pg_staging_count dst)" "no staging tables after a full sync"
assert_eq t "$(q dst "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = '_ferry_state')")" \
	"_ferry_state exists in the destination"

# ---------------------------------------------------------------- incremental
note "incremental with nothing changed: all unchanged"
run ferry sync shop dw --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq incremental "$(jf "$R" '.mode')"
assert_eq "100 0 0 100 0" "$(stream_counts "$R" users)" "users (read inserted updated unchanged deleted)"
read -r o_read o_ins o_upd o_unch o_del <<<"$(stream_counts "$R" orders)"
assert_eq "0 0 $o_read" "$o_ins $o_upd $o_unch" "orders: nothing inserted or updated, every row read is unchanged"
[ "$o_read" -le 1 ] || fail "orders has a cursor: an incremental run with nothing new should read at most the row at the cursor, read $o_read"
synced_before=$(q dst "SELECT max(_ferry_synced_at) FROM users")
same_users
same_orders
assert_eq "$synced_before" "$(q dst "SELECT max(_ferry_synced_at) FROM users")" "unchanged rows are not rewritten"

note "incremental with 2 updates + 1 insert per table: exact counts"
q src "
UPDATE users SET name = name || ' (renamed)' WHERE id IN (1, 2);
INSERT INTO users VALUES (101, 'new user', NULL);
UPDATE orders SET amount = 9999.99, updated_at = now() WHERE id IN (5, 6);
INSERT INTO orders VALUES (501, 101, 1.00, now());
" >/dev/null
run ferry sync shop dw --json
R=$OUT
assert_eq "101 1 2 98 0" "$(stream_counts "$R" users)" "users (read inserted updated unchanged deleted)"
read -r o_read o_ins o_upd o_unch o_del <<<"$(stream_counts "$R" orders)"
assert_eq "1 2" "$o_ins $o_upd" "orders: 1 inserted, 2 updated"
[ "$o_read" -ge 3 ] && [ "$o_read" -le 4 ] || fail "orders with a cursor: expected to read only the 3 new/changed rows (4 with the row at the cursor), read $o_read"
assert_eq $((o_read - 3)) "$o_unch" "orders: the rest of what was read is unchanged"
same_users
same_orders
assert_eq "new user" "$(q dst 'SELECT name FROM users WHERE id = 101')"
assert_eq "user 1 (renamed)" "$(q dst 'SELECT name FROM users WHERE id = 1')"

state_cols=$(q dst "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = '_ferry_state' AND column_name ~ '(stream|cursor)'")
assert_match "$state_cols" 'stream.*cursor|cursor.*stream' "_ferry_state has stream and cursor columns"
cursor_row() { q dst "SELECT t::text FROM (SELECT $state_cols FROM public._ferry_state) t WHERE t::text LIKE '%orders%'"; }
cursor_now=$(cursor_row)
[ -n "$cursor_now" ] || fail "no cursor row for orders in _ferry_state: $(q dst 'SELECT * FROM _ferry_state')"

# ---------------------------------------------------------------- backfill
note "--since/--until backfill upserts the range and leaves the cursor alone"
# Change rows inside and outside the range without moving their cursor column.
q src "UPDATE orders SET amount = amount + 1000 WHERE id IN (60, 90, 119, 120, 200)" >/dev/null
run ferry sync shop dw orders --since 2024-01-01T01:00:00Z --until 2024-01-01T02:00:00Z --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq orders "$(jf "$R" '[.streams[].name] | join(",")')" "only the named stream ran"
assert_eq "60 0 3 57 0" "$(stream_counts "$R" orders)" "backfill reads [01:00, 02:00): ids 60..119, 3 of them changed"
assert_eq "1090.00 1135.00 1178.50" "$(q dst 'SELECT string_agg(amount::text, $$ $$ ORDER BY id) FROM orders WHERE id IN (60, 90, 119)')" \
	"rows in the range were updated"
assert_eq "180.00 300.00" "$(q dst 'SELECT string_agg(amount::text, $$ $$ ORDER BY id) FROM orders WHERE id IN (120, 200)')" \
	"rows outside the range were not touched"
assert_eq "$cursor_now" "$(cursor_row)" "a backfill does not move the stored cursor"
# A normal incremental run afterwards still starts from the old cursor: the
# out-of-range changes stay invisible until their cursor moves (that is what a cursor means).
q src "UPDATE orders SET amount = amount - 1000 WHERE id IN (60, 90, 119, 120, 200)" >/dev/null
run ferry sync shop dw orders --full --json
same_orders "" "a full sync after the backfill brings everything back in line"

# ---------------------------------------------------------------- namespace
note "--namespace prod creates schema prod"
run ferry sync shop dw --namespace prod --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq t "$(q dst "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'prod')")" "schema prod created"
same_users prod "prod.users equals the source"
same_orders prod "prod.orders equals the source"
assert_eq t "$(pg_has_table dst prod _ferry_state)" "prod has its own _ferry_state"
run ferry sync shop dw --namespace prod --json
assert_eq "101 0 0 101 0" "$(stream_counts "$OUT" users)" "prod keeps its own state: second run all unchanged"

# ---------------------------------------------------------------- prefix
note "--prefix raw_ names the destination tables raw_<table>"
run ferry sync shop dw users --prefix raw_ --json
assert_eq raw_users "$(jf "$OUT" '.streams[0].table')" "the report names the prefixed table"
same_users "" "the unprefixed table is still there"
assert_eq "$(pg_sum src users "$U_COLS")" "$(pg_sum dst public.raw_users "$U_COLS")" "raw_users equals the source"
run ferry sync shop dw users --prefix raw_ --json
assert_eq "101 0 0 101 0" "$(stream_counts "$OUT" users)" "the prefixed table keeps its own state"
expect_exit 2 ferry sync shop dw --prefix 'bad prefix;'
assert_error_msg

# ---------------------------------------------------------------- dry run
note "--dry-run writes nothing"
DRY=$(newdb dry)
run ferry dest add drydst --url "$DRY"
for mode in "" "--full"; do
	# shellcheck disable=SC2086
	run ferry sync shop drydst --dry-run $mode
	assert_contains "$OUT$ERR" "users" "dry run $mode prints the plan (tables)"
	assert_contains "$OUT$ERR" "orders" "dry run $mode prints the plan (tables)"
	assert_eq 0 "$(q dry "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	                     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')")" \
		"dry run $mode created nothing in the destination"
done
dst_tables() { q dst "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"; }
tables_before=$(dst_tables)
sum_before=$(pg_sum dst users "$U_COLS, _ferry_synced_at")
run ferry sync shop dw --dry-run --full --backup-retention 0
assert_eq "$tables_before" "$(dst_tables)" "a full dry run creates, swaps and drops nothing"
assert_eq "$sum_before" "$(pg_sum dst users "$U_COLS, _ferry_synced_at")" "a full dry run leaves the live rows alone"
q src "INSERT INTO users VALUES (102, 'dry', NULL)" >/dev/null
run ferry sync shop dw --dry-run
assert_eq 0 "$(q dst 'SELECT count(*) FROM users WHERE id = 102')" "dry run did not write the new row"
q src "DELETE FROM users WHERE id = 102" >/dev/null

# ---------------------------------------------------------------- deletes on full
note "full sync counts deleted rows"
q src "DELETE FROM users WHERE id = 7" >/dev/null
run ferry sync shop dw --full --json
R=$OUT
assert_eq 1 "$(jf "$R" '.streams[] | select(.name == "users") | .deleted')" "one deleted user counted"
assert_eq 100 "$(jf "$R" '.streams[] | select(.name == "users") | .read')"
same_users
assert_eq 0 "$(q dst 'SELECT count(*) FROM users WHERE id = 7')" "the deleted row is gone (hard deletes)"
assert_eq 0 "$(pg_staging_count dst)" "no staging tables left"
assert_match "$(q dst "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'users\\_backup\\_%'")" \
	'^users_backup_[0-9]+' "the old live table is kept as users_backup_<unix> (default retention 60 s)"

note "soft deletes keep the deleted row with _ferry_deleted_at"
q src "DELETE FROM users WHERE id IN (3, 4)" >/dev/null
run ferry sync shop dw users --full --deletes soft --json
R=$OUT
assert_eq 2 "$(jf "$R" '.streams[] | select(.name == "users") | .deleted')" "two soft-deleted users counted"
assert_contains "$(pg_columns dst public users)" "_ferry_deleted_at" "soft deletes add _ferry_deleted_at"
assert_eq "3,4" "$(q dst 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM users WHERE _ferry_deleted_at IS NOT NULL')" \
	"deleted rows kept, marked deleted"
assert_eq "user 3" "$(q dst 'SELECT name FROM users WHERE id = 3')" "a soft-deleted row keeps its data"
assert_eq "$(pg_sum src users "$U_COLS")" "$(pg_sum dst "(SELECT * FROM users WHERE _ferry_deleted_at IS NULL) u" "$U_COLS")" \
	"the rows not marked deleted equal the source"

# ---------------------------------------------------------------- backup retention
note "--backup-retention 0 drops the backups at once"
RET=$(newdb ret)
run ferry dest add ret0 --url "$RET"
run ferry sync shop ret0 --full --backup-retention 0
run ferry sync shop ret0 --full --backup-retention 0 --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 0 "$(pg_backup_count ret)" "no *_backup_* tables with --backup-retention 0"
assert_eq 0 "$(pg_staging_count ret)"
assert_eq "$(pg_sum src users "$U_COLS")" "$(pg_sum ret users "$U_COLS")" "ret0 has the data"

# ---------------------------------------------------------------- view on a live table
note "full sync of a table with a dependent view keeps the view working"
q dst "CREATE VIEW public.big_orders AS SELECT id, amount FROM public.orders WHERE amount > 700" >/dev/null
q dst "GRANT SELECT ON public.orders TO ferry" >/dev/null
before=$(q dst 'SELECT count(*) FROM big_orders')
q src "UPDATE orders SET amount = 5000 WHERE id <= 10; INSERT INTO orders VALUES (502, 1, 800, now())" >/dev/null
run ferry sync shop dw orders --full --backup-retention 0 --json
assert_eq succeeded "$(jf "$OUT" '.status')" "full sync with a dependent view"
same_orders
assert_eq "$(q src 'SELECT count(*) FROM orders WHERE amount > 700')" "$(q dst 'SELECT count(*) FROM big_orders')" \
	"the view shows the new data (it was $before before)"
assert_eq t "$(q dst "SELECT has_table_privilege('ferry', 'public.orders', 'SELECT')")" "grants stay attached"
assert_eq 0 "$(pg_staging_count dst)"

# ---------------------------------------------------------------- reset
note "--reset drops the tables and state, then syncs full"
q dst "INSERT INTO users (id, name, _ferry_synced_at) VALUES (9999, 'junk only in the destination', now())" >/dev/null
q dst "DROP VIEW big_orders" >/dev/null
run ferry sync shop dw --reset --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq full "$(jf "$R" '.mode')" "--reset runs a full sync"
assert_eq 0 "$(q dst 'SELECT count(*) FROM users WHERE id = 9999')" "--reset removed what was only in the destination"
same_users
same_orders
assert_ne "" "$(cursor_row)" "state written again after --reset"

# ---------------------------------------------------------------- primary keys
note "a table without a primary key is refused for incremental"
run ferry source add logs --type postgres --set url="$SRC" --set tables=events
expect_fail ferry sync logs dw
assert_error_msg
assert_contains "$ERR" "events" "the message names the table"
assert_contains "$ERR" "pk." "the message says how to name a key (--set pk.TABLE=...)"
assert_eq f "$(pg_has_table dst public events)" "nothing was created for the refused table"
run ferry source add logs2 --type postgres --set url="$SRC" --set tables=events --set pk.events=eid
run ferry sync logs2 dw --json
assert_eq "10 10 0 0 0" "$(stream_counts "$OUT" events)" "with pk.events=eid the incremental sync works"
q src "UPDATE events SET kind = 'changed' WHERE eid = 3" >/dev/null
run ferry sync logs2 dw --json
assert_eq "10 0 1 9 0" "$(stream_counts "$OUT" events)" "upsert by the named key"
assert_eq "$(pg_sum src events 'eid, kind, at')" "$(pg_sum dst events 'eid, kind, at')" "events equal the source"

note "composite keys: native and named with pk.TABLE=c1,c2"
qs src <<'SQL'
CREATE TABLE lines (order_id int, line_no int, sku text, qty int, PRIMARY KEY (order_id, line_no));
INSERT INTO lines SELECT o, l, 'sku' || o || '-' || l, l FROM generate_series(1, 20) o, generate_series(1, 3) l;
CREATE TABLE lines_nopk (order_id int NOT NULL, line_no int NOT NULL, sku text, qty int);
INSERT INTO lines_nopk SELECT * FROM lines;
SQL
run ferry source add lines --type postgres --set url="$SRC" --set tables=lines,lines_nopk \
	--set pk.lines_nopk=order_id,line_no
run ferry sync lines dw --json
assert_eq "60 60 0 0 0" "$(stream_counts "$OUT" lines)"
assert_eq "60 60 0 0 0" "$(stream_counts "$OUT" lines_nopk)"
assert_eq "order_id,line_no" "$(q dst "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey::int[], a.attnum::int))
                  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = 'public.lines'::regclass AND i.indisprimary")" "a composite primary key carried over"
q src "UPDATE lines SET qty = 99 WHERE order_id = 5 AND line_no = 2; UPDATE lines_nopk SET qty = 99 WHERE order_id = 5 AND line_no = 2;
       INSERT INTO lines VALUES (5, 4, 'x', 1); INSERT INTO lines_nopk VALUES (5, 4, 'x', 1)" >/dev/null
run ferry sync lines dw --json
assert_eq "61 1 1 59 0" "$(stream_counts "$OUT" lines)" "upsert on a composite key"
assert_eq "61 1 1 59 0" "$(stream_counts "$OUT" lines_nopk)" "upsert on a named composite key"
assert_eq "$(pg_sum src lines '*')" "$(pg_sum dst lines 'order_id, line_no, sku, qty')"
assert_eq "$(pg_sum src lines_nopk '*')" "$(pg_sum dst lines_nopk 'order_id, line_no, sku, qty')"

note "schema-qualified table names"
q src "CREATE SCHEMA sales; CREATE TABLE sales.deals (id int PRIMARY KEY, v text); INSERT INTO sales.deals VALUES (1, 'a'), (2, 'b')" >/dev/null
run ferry source add sales --type postgres --set url="$SRC" --set tables=sales.deals
run ferry sync sales dw --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 2 "$(jf "$OUT" '.streams[0].read')"
deals_table=$(jf "$OUT" '.streams[0].table')
assert_eq "1 a|2 b" "$(q dst "SELECT string_agg(id || ' ' || v, '|' ORDER BY id) FROM \"$deals_table\"")" \
	"sales.deals arrived in the destination table the report names ($deals_table)"

note "no tables setting: every table of schema public"
ALL=$(newdb all)
run ferry source add everything --type postgres --set url="$SRC"
run ferry dest add alldst --url "$ALL"
run ferry sync everything alldst --full --json
assert_eq "events,lines,lines_nopk,orders,users" "$(jf "$OUT" '[.streams[].name] | sort | join(",")')" "default streams: the tables of schema public (not sales.deals)"
assert_eq "$(pg_sum src users "$U_COLS")" "$(pg_sum all users "$U_COLS")"

assert_eq 0 "$(pg_staging_count dst)" "no staging tables at the end"
pass
