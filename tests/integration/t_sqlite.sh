#!/usr/bin/env bash
# SQLite as a source and as a destination: SQLite -> PostgreSQL,
# PostgreSQL -> SQLite (sqlite:///path) and SQLite -> SQLite, full and incremental.
. "$(dirname "$0")/lib.sh"

SHOP=$T_DIR/shop.db
sq "$SHOP" "
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT,
                        updated_at DATETIME NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO customers SELECT i, 'customer ' || i, CASE i % 3 WHEN 0 THEN 'IT' WHEN 1 THEN NULL ELSE 'CH' END,
       datetime('2024-01-01', '+' || i || ' minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO orders SELECT i, 1 + i % 300, i * 0.25, 'note ' || i FROM n;
"
# Rows as text, the same way on both sides.
sq_rows() { sq "$1" "SELECT group_concat(r, '|') FROM (SELECT $3 AS r FROM $2 ORDER BY id)"; }
pg_rows() { q "$1" "SELECT string_agg(r, '|' ORDER BY id) FROM (SELECT id, $3 AS r FROM $2) x"; }
C_SQ="id || ',' || name || ',' || coalesce(country, '<null>')"
C_PG="id || ',' || name || ',' || coalesce(country, '<null>')"
O_SQ="id || ',' || customer_id || ',' || printf('%.2f', amount) || ',' || note"
O_PG="id || ',' || customer_id || ',' || to_char(amount, 'FM999999990.00') || ',' || note"

run ferry source add shop --type sqlite --set path="$SHOP" --set cursor.customers=updated_at

# ---------------------------------------------------------------- SQLite -> PostgreSQL
note "SQLite -> PostgreSQL, full"
PG=$(newdb pg)
run ferry dest add pg --url "$PG"
run ferry sync shop pg --full --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq 300 "$(jf "$R" '.streams[] | select(.name == "customers") | .read')"
assert_eq 1000 "$(jf "$R" '.streams[] | select(.name == "orders") | .read')"
assert_eq "$(sq_rows "$SHOP" customers "$C_SQ")" "$(pg_rows pg customers "$C_PG")" "customers arrived in PostgreSQL"
assert_eq "$(sq_rows "$SHOP" orders "$O_SQ")" "$(pg_rows pg orders "$O_PG")" "orders arrived in PostgreSQL"
assert_contains "$(pg_columns pg public customers)" "_ferry_synced_at"
assert_eq id "$(q pg "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a
                  ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = 'public.customers'::regclass AND i.indisprimary")" "SQLite primary key carried over"
assert_eq "bigint" "$(q pg "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                  WHERE attrelid = 'public.orders'::regclass AND attname = 'customer_id'")" "INTEGER -> bigint"
assert_eq "double precision" "$(q pg "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                  WHERE attrelid = 'public.orders'::regclass AND attname = 'amount'")" "REAL -> double precision"
assert_eq 0 "$(pg_staging_count pg)"

note "SQLite -> PostgreSQL, incremental"
run ferry sync shop pg --json
assert_eq "0 0" "$(jf "$OUT" '.streams[] | select(.name == "customers") | "\(.inserted) \(.updated)"')" \
	"nothing changed: nothing inserted or updated"
assert_eq "1000 0 0 1000 0" "$(stream_counts "$OUT" orders)" "orders (no cursor): read all, all unchanged"
sq "$SHOP" "UPDATE customers SET name = 'renamed', updated_at = datetime('2025-01-01') WHERE id = 10;
            INSERT INTO customers VALUES (301, 'new', 'FR', datetime('2025-01-02'));
            UPDATE orders SET note = 'changed' WHERE id IN (1, 2, 3);"
run ferry sync shop pg --json
R=$OUT
read -r c_read c_ins c_upd c_unch c_del <<<"$(stream_counts "$R" customers)"
assert_eq "1 1" "$c_ins $c_upd" "customers: 1 inserted, 1 updated"
[ "$c_read" -le 3 ] || fail "customers has a cursor: expected to read only the new rows, read $c_read"
assert_eq "1000 0 3 997 0" "$(stream_counts "$R" orders)" "orders: 3 updated"
assert_eq "$(sq_rows "$SHOP" customers "$C_SQ")" "$(pg_rows pg customers "$C_PG")" "customers equal after incremental"
assert_eq "$(sq_rows "$SHOP" orders "$O_SQ")" "$(pg_rows pg orders "$O_PG")" "orders equal after incremental"

# ---------------------------------------------------------------- PostgreSQL -> SQLite
note "PostgreSQL -> SQLite (sqlite:///path), full"
SRC=$(newdb src)
q src "CREATE TABLE users (id int PRIMARY KEY, name text, active boolean, updated_at timestamptz NOT NULL);
       INSERT INTO users SELECT i, 'user ' || i, i % 2 = 0, timestamptz '2024-03-01 00:00+00' + i * interval '1 hour'
         FROM generate_series(1, 200) i;" >/dev/null
run ferry source add pgsrc --type postgres --set url="$SRC" --set cursor.users=updated_at
LITE=$T_DIR/warehouse.db
run ferry dest add lite --url "sqlite://$LITE"
run ferry sync pgsrc lite --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 200 "$(jf "$OUT" '.streams[0].read')"
U_SQ="id || ',' || name"
U_PG="id || ',' || name"
assert_eq "$(pg_rows src users "$U_PG")" "$(sq_rows "$LITE" users "$U_SQ")" "users arrived in SQLite"
assert_eq 100 "$(sq "$LITE" 'SELECT count(*) FROM users WHERE active')" "booleans are true/false in SQLite"
assert_contains "$(sq "$LITE" 'SELECT group_concat(name) FROM pragma_table_info("users")')" "_ferry_synced_at" \
	"SQLite destination has _ferry_synced_at"
assert_eq 0 "$(sq "$LITE" "SELECT count(*) FROM users WHERE _ferry_synced_at IS NULL")"
assert_eq 0 "$(sq "$LITE" "SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_staging\\_%' ESCAPE '\\'")" "no staging tables in SQLite"
assert_eq id "$(sq "$LITE" "SELECT name FROM pragma_table_info('users') WHERE pk > 0")" "primary key carried over into SQLite"

note "PostgreSQL -> SQLite, incremental"
run ferry sync pgsrc lite --json
read -r u_read u_ins u_upd u_unch u_del <<<"$(stream_counts "$OUT" users)"
assert_eq "0 0 $u_read" "$u_ins $u_upd $u_unch" "second run: everything read is unchanged"
q src "UPDATE users SET name = 'changed', updated_at = now() WHERE id IN (5, 6);
       INSERT INTO users VALUES (201, 'new', true, now())" >/dev/null
run ferry sync pgsrc lite --json
read -r u_read u_ins u_upd u_unch u_del <<<"$(stream_counts "$OUT" users)"
assert_eq "1 2" "$u_ins $u_upd" "PG -> SQLite: 1 inserted, 2 updated"
[ "$u_read" -le 4 ] || fail "cursor: expected to read the 3 changed rows (+1 at the cursor), read $u_read"
assert_eq "$(pg_rows src users "$U_PG")" "$(sq_rows "$LITE" users "$U_SQ")" "users equal after incremental"

note "PostgreSQL -> SQLite, full with a deleted row and a namespace"
q src "DELETE FROM users WHERE id = 9" >/dev/null
run ferry sync pgsrc lite --full --json --backup-retention 0
assert_eq 1 "$(jf "$OUT" '.streams[0].deleted')" "one deleted row counted (SQLite destination)"
assert_eq 0 "$(sq "$LITE" 'SELECT count(*) FROM users WHERE id = 9')"
assert_eq 0 "$(sq "$LITE" "SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_backup\\_%' ESCAPE '\\'")" \
	"--backup-retention 0 drops SQLite backups"
run ferry sync pgsrc lite --namespace prod --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "$(pg_rows src users "$U_PG")" "$(sq_rows "$LITE" prod__users "$U_SQ")" "--namespace prod -> table prod__users"
assert_eq "$(pg_rows src users "$U_PG")" "$(sq_rows "$LITE" users "$U_SQ")" "the unprefixed table is untouched"

note "PostgreSQL -> SQLite, soft deletes"
q src "DELETE FROM users WHERE id IN (11, 12)" >/dev/null
run ferry sync pgsrc lite --full --deletes soft --json
assert_eq 2 "$(jf "$OUT" '.streams[0].deleted')"
assert_eq "11,12" "$(sq "$LITE" 'SELECT group_concat(id) FROM (SELECT id FROM users WHERE _ferry_deleted_at IS NOT NULL ORDER BY id)')" \
	"soft-deleted rows kept with _ferry_deleted_at (SQLite)"

# ---------------------------------------------------------------- SQLite -> SQLite
note "SQLite -> SQLite"
L2=$T_DIR/copy.db
run ferry dest add copy --url "sqlite://$L2"
run ferry sync shop copy --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "$(sq_rows "$SHOP" customers "$C_SQ")" "$(sq_rows "$L2" customers "$C_SQ")" "customers copied SQLite -> SQLite"
assert_eq "$(sq_rows "$SHOP" orders "$O_SQ")" "$(sq_rows "$L2" orders "$O_SQ")" "orders copied SQLite -> SQLite"
sq "$SHOP" "DELETE FROM orders WHERE id = 500; UPDATE orders SET amount = 1.5 WHERE id = 501;
            INSERT INTO orders VALUES (1001, 1, 2.5, 'x');"
run ferry sync shop copy orders --json
assert_eq "1000 1 1 998 0" "$(stream_counts "$OUT" orders)" "SQLite -> SQLite incremental counts"
assert_eq 1 "$(sq "$L2" 'SELECT count(*) FROM orders WHERE id = 500')" "incremental does not delete"
run ferry sync shop copy orders --full --json
assert_eq 1 "$(jf "$OUT" '.streams[0].deleted')" "SQLite -> SQLite full counts the deleted row"
assert_eq "$(sq_rows "$SHOP" orders "$O_SQ")" "$(sq_rows "$L2" orders "$O_SQ")" "orders equal after full"

note "a SQLite source file that does not exist"
run ferry source add ghost --type sqlite --set path="$T_DIR/does-not-exist.db"
expect_exit 1 ferry sync ghost copy
assert_error_msg
assert_contains "$ERR" "does-not-exist.db" "the message names the missing file"
[ ! -e "$T_DIR/does-not-exist.db" ] || fail "syncing from a missing SQLite file created it"
pass
