#!/usr/bin/env bash
# Every column type, with NULLs, unicode, empty strings, long values and the
# characters COPY and CSV care about (tab, newline, backslash, "\N"):
#   PostgreSQL -> PostgreSQL        exactly equal, same column types
#   PostgreSQL -> SQLite -> PostgreSQL   same values
#   SQLite -> PostgreSQL -> SQLite       same values
. "$(dirname "$0")/lib.sh"

COLS="id, c_smallint, c_int, c_bigint, c_numeric, c_real, c_double, c_text, c_varchar, c_bool, c_date,
      c_ts, c_tstz, c_json, c_jsonb, c_uuid, c_bytea, c_int_arr, c_text_arr"
COL_LIST=$(tr -d ' \n' <<<"$COLS" | tr ',' ' ')

SRC=$(newdb src)
qs src <<'SQL'
CREATE TABLE t (
  id          integer PRIMARY KEY,
  c_smallint  smallint,
  c_int       integer,
  c_bigint    bigint,
  c_numeric   numeric,
  c_real      real,
  c_double    double precision,
  c_text      text,
  c_varchar   varchar(20),
  c_bool      boolean,
  c_date      date,
  c_ts        timestamp,
  c_tstz      timestamptz,
  c_json      json,
  c_jsonb     jsonb,
  c_uuid      uuid,
  c_bytea     bytea,
  c_int_arr   integer[],
  c_text_arr  text[]
);
-- 1: ordinary values, unicode
INSERT INTO t VALUES (1, 1, 42, 9223372036854775807, 12345678901234567890.123456789, 3.14, 2.718281828459045,
  'héllo ✓ 日本', 'varchar ✓', true, '2024-02-29', '2024-02-29 13:45:56.123456',
  '2024-02-29 13:45:56.123456+02', '{"a": [1, 2, {"b": null}], "u": "日本"}', '{"k": "v", "n": 1.50}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10', '{1,2,NULL,-3}', '{a,"b c","",NULL,"quo\"te","com,ma"}');
-- 2: all NULL
INSERT INTO t (id) VALUES (2);
-- 3: empty values and extremes
INSERT INTO t VALUES (3, -32768, -2147483648, -9223372036854775808, -0.000000001, -1.5, 1e-300,
  '', '', false, '1970-01-01', '1970-01-01 00:00:00', '1999-12-31 23:59:59.999999+00', '{}', '[]',
  '00000000-0000-0000-0000-000000000000', '\x', '{}', '{}');
-- 4: characters COPY, CSV and shells care about
INSERT INTO t VALUES (4, 0, 0, 0, 0, 0, 0,
  E'tab\there\nnew line\\back\\slash\r\ncrlf ''quote'' "dq" ;|,', E'\\N', NULL, '2000-01-01',
  '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00+00', E'{"s": "line\\nbreak \\"q\\" \\\\ ✓"}',
  E'{"tab": "a\\tb"}', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  (SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), ''), 'hex') FROM generate_series(0, 255) i),
  '{2147483647,-2147483648}', E'{"a\\\\b","tab\there",NULL,"NULL","\\\\N"}');
-- 5: long values
INSERT INTO t VALUES (5, 7, 7, 7, 1e100, 1e30, 1.7976931348623157e308,
  repeat('0123456789', 10240) || '✓ end', 'éééééééééééééééééé✓é', true, '9999-12-31',
  '2262-04-11 23:47:16.854775', '1901-12-13 20:45:52+00',
  (SELECT json_agg(i)::text FROM generate_series(1, 5000) i)::json,
  (SELECT jsonb_object_agg('k' || i, repeat('v', 20)) FROM generate_series(1, 2000) i),
  gen_random_uuid(), decode(repeat('00ff7f805c0a09', 8000), 'hex'),
  (SELECT array_agg(i) FROM generate_series(1, 3000) i),
  (SELECT array_agg('élément ' || i) FROM generate_series(1, 1000) i));
-- 6: the text 'NULL' and whitespace-only values are not NULL
INSERT INTO t (id, c_text, c_varchar, c_json, c_text_arr) VALUES (6, 'NULL', ' ', 'null', '{" "}');
SQL
assert_eq "6 $((102400 + 5))" "$(q src "SELECT count(*), max(length(c_text)) FROM t" | tr '|' ' ')" "test data loaded"

pg_types() { q "$1" "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                     FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped
                       AND attname NOT LIKE '\\_ferry%'"; }

# ---------------------------------------------------------------- PG -> PG
note "PostgreSQL -> PostgreSQL: exactly equal"
DST=$(newdb dst)
run ferry source add pg --type postgres --set url="$SRC" --set tables=t
run ferry dest add pgdst --url "$DST"
run ferry sync pg pgdst --full --json
assert_eq "6" "$(jf "$OUT" '.streams[0].read')"
assert_eq "$(pg_types src t)" "$(pg_types dst t)" "column types carried over exactly"
assert_eq "$(pg_sum src t "$COLS")" "$(pg_sum dst t "$COLS")" "full sync: every value equal"
for c in $COL_LIST; do
	a=$(q src "SELECT md5(string_agg(coalesce($c::text, '<NULL>'), '|' ORDER BY id)) FROM t")
	b=$(q dst "SELECT md5(string_agg(coalesce($c::text, '<NULL>'), '|' ORDER BY id)) FROM t")
	assert_eq "$a" "$b" "PG -> PG column $c"
done
assert_eq 1 "$(q dst "SELECT count(*) FROM t WHERE c_varchar = E'\\\\N'")" "the text \\N is not NULL"
assert_eq 1 "$(q dst "SELECT count(*) FROM t WHERE c_text = 'NULL'")" "the text 'NULL' is not NULL"
run ferry sync pg pgdst --json
assert_eq "6 0 0 6 0" "$(stream_counts "$OUT" t)" "incremental after full: every row (all types) unchanged"
# Incremental into an empty destination (upsert path, not the COPY swap).
DST2=$(newdb dst_inc)
run ferry dest add pginc --url "$DST2"
run ferry sync pg pginc --json
assert_eq "6 6 0 0 0" "$(stream_counts "$OUT" t)"
assert_eq "$(pg_types src t)" "$(pg_types dst_inc t)" "incremental: column types carried over exactly"
assert_eq "$(pg_sum src t "$COLS")" "$(pg_sum dst_inc t "$COLS")" "incremental sync: every value equal"
q src "UPDATE t SET c_text = c_text || ' (2)', c_bytea = c_bytea || '\\x01'::bytea WHERE id IN (1, 4, 5)" >/dev/null
run ferry sync pg pginc --json
assert_eq "6 0 3 3 0" "$(stream_counts "$OUT" t)" "updates of long and special values counted"
assert_eq "$(pg_sum src t "$COLS")" "$(pg_sum dst_inc t "$COLS")" "incremental update: every value equal"

# ---------------------------------------------------------------- PG -> SQLite -> PG
note "PostgreSQL -> SQLite -> PostgreSQL: same values"
LITE=$T_DIR/types.db
run ferry dest add lite --url "sqlite://$LITE"
run ferry sync pg lite --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
# What a SQLite user sees.
assert_eq "6" "$(sq "$LITE" 'SELECT count(*) FROM t')"
assert_eq "$(q src 'SELECT c_text FROM t WHERE id = 1')" "$(sq "$LITE" 'SELECT c_text FROM t WHERE id = 1')" "unicode text in SQLite"
assert_eq "$(q src 'SELECT md5(c_text) FROM t WHERE id = 4')" "$(sq "$LITE" 'SELECT c_text FROM t WHERE id = 4' | head -c -1 | md5sum | cut -c1-32)" \
	"tabs, newlines, backslashes, quotes survive into SQLite"
assert_eq "$(q src 'SELECT length(c_text) FROM t WHERE id = 5')" "$(sq "$LITE" 'SELECT length(c_text) FROM t WHERE id = 5')" "100 KB text in SQLite"
assert_eq "blob $(q src "SELECT upper(encode(c_bytea, 'hex')) FROM t WHERE id = 1")" "$(sq "$LITE" "SELECT typeof(c_bytea) || ' ' || hex(c_bytea) FROM t WHERE id = 1")" "bytea becomes a BLOB"
assert_eq "$(q src "SELECT upper(encode(c_bytea, 'hex')) FROM t WHERE id = 4")" "$(sq "$LITE" 'SELECT hex(c_bytea) FROM t WHERE id = 4')" "all 256 byte values"
assert_eq "integer 9223372036854775807" "$(sq "$LITE" "SELECT typeof(c_bigint) || ' ' || c_bigint FROM t WHERE id = 1")" "bigint stays an integer"
assert_eq "null" "$(sq "$LITE" "SELECT typeof(c_text) FROM t WHERE id = 2")" "NULL stays NULL"
assert_eq "text" "$(sq "$LITE" "SELECT typeof(c_text) FROM t WHERE id = 3")" "'' stays an empty string, not NULL"
assert_eq "\\N" "$(sq "$LITE" "SELECT c_varchar FROM t WHERE id = 4")" "the text \\N stays text"
assert_eq "12345678901234567890.123456789" "$(sq "$LITE" "SELECT CAST(c_numeric AS TEXT) FROM t WHERE id = 1")" \
	"numeric keeps every digit in SQLite"

# Use the SQLite file as a source. The destination table carries ferry's own
# _ferry_* columns; copy the user columns (with their declared types) to rt.
sq "$LITE" "$(sq "$LITE" "SELECT 'CREATE TABLE rt (' || group_concat('\"' || name || '\" ' || type ||
                                    CASE WHEN pk > 0 THEN ' PRIMARY KEY' ELSE '' END, ', ') || ')'
                          FROM pragma_table_info('t') WHERE name NOT LIKE '\\_ferry%' ESCAPE '\\'")"
sq "$LITE" "INSERT INTO rt SELECT $COLS FROM t"
note "SQLite declared types: $(sq "$LITE" "SELECT group_concat(name || ' ' || type, ', ') FROM pragma_table_info('rt')")"
BACK=$(newdb back)
run ferry source add litesrc --type sqlite --set path="$LITE" --set tables=rt
run ferry dest add back --url "$BACK"
run ferry sync litesrc back --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 6 "$(jf "$OUT" '.streams[0].read')"
note "back in PostgreSQL: $(pg_types back rt)"
# Same value for every cell: compare through the original column type.
for c in $COL_LIST; do
	ty=$(q src "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = '$c'")
	a=$(q src "SELECT string_agg(id || '=' || coalesce($c::text, '<NULL>'), '|' ORDER BY id) FROM t")
	b=$(q back "SELECT string_agg(id || '=' || coalesce(($c::text)::$ty::text, '<NULL>'), '|' ORDER BY id) FROM rt" 2>&1) ||
		fail "PG -> SQLite -> PG: column $c does not read back as $ty: $b"
	if [ "$a" != "$b" ]; then
		diff <(tr '|' '\n' <<<"$a" | cut -c1-300) <(tr '|' '\n' <<<"$b" | cut -c1-300) | head -n 10 >&2 || true
		fail "PG -> SQLite -> PG: column $c ($ty) changed (back as $(q back "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'rt'::regclass AND attname = '$c'"))"
	fi
done
# ---------------------------------------------------------------- SQLite -> PG -> SQLite
note "SQLite -> PostgreSQL -> SQLite: same values"
S1=$T_DIR/lite_src.db
sqlite3 -batch -bail "$S1" <<'SQL'
CREATE TABLE s (id INTEGER PRIMARY KEY, c_integer INTEGER, c_real REAL, c_text TEXT, c_blob BLOB,
                c_numeric NUMERIC, c_boolean BOOLEAN, c_date DATE, c_datetime DATETIME);
INSERT INTO s VALUES (1, 9223372036854775807, 3.141592653589793, 'héllo ✓ 日本', x'00ff10', 12345.678, 1,
                      '2024-02-29', '2024-02-29 13:45:56');
INSERT INTO s (id) VALUES (2);
INSERT INTO s VALUES (3, -9223372036854775808, -0.5, '', x'', 42, 0, '1970-01-01', '1970-01-01 00:00:00');
INSERT INTO s VALUES (4, 0, 1e300, 'tab' || char(9) || 'nl' || char(10) || 'cr' || char(13) || 'bs \ \N ''q'' "dq"',
                      x'000102030405060708090a0b0c0d0e0f', 0.001, 1, '2000-01-01', '2000-01-01 00:00:01');
INSERT INTO s VALUES (5, 1, 1e-300, printf('%.*c', 102400, 'x') || '✓', randomblob(60000), 1e20, 0,
                      '9999-12-31', '2262-04-11 23:47:16');
INSERT INTO s (id, c_text) VALUES (6, 'NULL');
SQL
run ferry source add s1 --type sqlite --set path="$S1" --set tables=s
MID=$(newdb mid)
run ferry dest add mid --url "$MID"
run ferry sync s1 mid --full --json
assert_eq 6 "$(jf "$OUT" '.streams[0].read')"
note "in PostgreSQL: $(pg_types mid s)"
assert_eq "$(sq "$S1" 'SELECT length(c_text) FROM s WHERE id = 5')" "$(q mid 'SELECT length(c_text) FROM s WHERE id = 5')" "long text in PG"
assert_eq "$(sq "$S1" 'SELECT hex(c_blob) FROM s WHERE id = 4')" "$(q mid "SELECT upper(encode(c_blob, 'hex')) FROM s WHERE id = 4")" \
	"BLOB -> bytea"
assert_eq "bytea" "$(q mid "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'c_blob'")" "BLOB maps to bytea"
assert_eq "boolean" "$(q mid "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'c_boolean'")" "BOOLEAN maps to boolean"
assert_eq "t||f|t|f|" "$(q mid "SELECT string_agg(coalesce(c_boolean::text, ''), '|' ORDER BY id) FROM s" | sed 's/true/t/g; s/false/f/g')" "booleans"
assert_eq "date" "$(q mid "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'c_date'")" "DATE maps to date"
assert_eq "9223372036854775807" "$(q mid 'SELECT c_integer FROM s WHERE id = 1')"
assert_eq "" "$(q mid 'SELECT c_text FROM s WHERE id = 2')"
assert_eq "t" "$(q mid 'SELECT c_text IS NULL FROM s WHERE id = 2')" "NULL stays NULL in PG"
assert_eq "f" "$(q mid 'SELECT c_text IS NULL FROM s WHERE id = 3')" "'' stays '' in PG"

# Back to SQLite, through a PG source on a copy without ferry's columns.
q mid "CREATE TABLE rs (LIKE s INCLUDING ALL)" >/dev/null
for c in $(q mid "SELECT attname FROM pg_attribute WHERE attrelid = 'rs'::regclass AND attnum > 0 AND NOT attisdropped AND attname LIKE '\\_ferry%'"); do
	q mid "ALTER TABLE rs DROP COLUMN \"$c\"" >/dev/null
done
q mid "INSERT INTO rs SELECT id, c_integer, c_real, c_text, c_blob, c_numeric, c_boolean, c_date, c_datetime FROM s" >/dev/null
run ferry source add midsrc --type postgres --set url="$MID" --set tables=rs
S2=$T_DIR/lite_back.db
run ferry dest add s2 --url "sqlite://$S2"
run ferry sync midsrc s2 --full --json
assert_eq 6 "$(jf "$OUT" '.streams[0].read')"
note "back in SQLite: $(sq "$S2" "SELECT group_concat(name || ' ' || type, ', ') FROM pragma_table_info('rs')")"
# quote() shows storage class and exact value: INTEGER, REAL, TEXT, BLOB must match exactly.
for c in c_integer c_real c_text c_blob; do
	a=$(sq "$S1" "SELECT md5 FROM (SELECT group_concat(id || '=' || quote($c), '|') AS md5 FROM (SELECT * FROM s ORDER BY id))")
	b=$(sq "$S2" "SELECT md5 FROM (SELECT group_concat(id || '=' || quote($c), '|') AS md5 FROM (SELECT * FROM rs ORDER BY id))")
	[ "$a" = "$b" ] || fail "SQLite -> PG -> SQLite: column $c changed:
  expected: $(cut -c1-400 <<<"$a")
  actual:   $(cut -c1-400 <<<"$b")"
done
# NUMERIC: the same number (ferry may keep it as text to keep every digit).
assert_eq "$(sq "$S1" "SELECT group_concat(id || '=' || quote(CAST(c_numeric AS NUMERIC)), '|') FROM (SELECT * FROM s ORDER BY id)")" \
	"$(sq "$S2" "SELECT group_concat(id || '=' || quote(CAST(c_numeric AS NUMERIC)), '|') FROM (SELECT * FROM rs ORDER BY id)")" \
	"NUMERIC round trip"
# BOOLEAN, DATE, DATETIME: the same value (1/0, the same day and instant).
assert_eq "$(sq "$S1" "SELECT group_concat(id || '=' || coalesce(c_boolean, 'NULL'), '|') FROM (SELECT * FROM s ORDER BY id)")" \
	"$(sq "$S2" "SELECT group_concat(id || '=' || coalesce(CASE WHEN c_boolean IN (1, '1', 't', 'true') THEN 1 WHEN c_boolean IN (0, '0', 'f', 'false') THEN 0 ELSE c_boolean END, 'NULL'), '|') FROM (SELECT * FROM rs ORDER BY id)")" \
	"BOOLEAN round trip"
assert_eq "$(sq "$S1" "SELECT group_concat(id || '=' || coalesce(date(c_date), 'NULL'), '|') FROM (SELECT * FROM s ORDER BY id)")" \
	"$(sq "$S2" "SELECT group_concat(id || '=' || coalesce(date(c_date), 'NULL'), '|') FROM (SELECT * FROM rs ORDER BY id)")" \
	"DATE round trip"
assert_eq "$(sq "$S1" "SELECT group_concat(id || '=' || coalesce(datetime(c_datetime), 'NULL'), '|') FROM (SELECT * FROM s ORDER BY id)")" \
	"$(sq "$S2" "SELECT group_concat(id || '=' || coalesce(datetime(c_datetime), 'NULL'), '|') FROM (SELECT * FROM rs ORDER BY id)")" \
	"DATETIME round trip"
assert_eq "$(sq "$S1" "SELECT group_concat(c_date || ' ' || c_datetime, '|') FROM (SELECT * FROM s ORDER BY id)")" \
	"$(sq "$S2" "SELECT group_concat(c_date || ' ' || c_datetime, '|') FROM (SELECT * FROM rs ORDER BY id)")" \
	"DATE and DATETIME keep SQLite's text format"
# ---------------------------------------------------------------- chaining
# The literal round trip: the SQLite destination table itself as a source (it has
# ferry's _ferry_synced_at column; the next destination adds its own).
note "a ferry-made SQLite table as a source"
run ferry source add chained --type sqlite --set path="$LITE" --set tables=t
CH=$(newdb chained)
run ferry dest add chaindst --url "$CH"
run ferry sync chained chaindst --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "$(q back "SELECT md5(string_agg(c_text, '|' ORDER BY id)) FROM rt")" \
	"$(q chained "SELECT md5(string_agg(c_text, '|' ORDER BY id)) FROM t")" "chained copy has the data"
pass
