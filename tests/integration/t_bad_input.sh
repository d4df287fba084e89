#!/usr/bin/env bash
# Bad input is refused with a clear message and exit 2 (usage) or 1, and
# changes nothing: neither the state store's sources/destinations nor the
# destination's tables.
. "$(dirname "$0")/lib.sh"

SRC=$(newdb src)
DST=$(newdb dst)
q src "CREATE TABLE users (id int PRIMARY KEY, name text);
       INSERT INTO users SELECT i, 'u' || i FROM generate_series(1, 50) i;
       CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now());
       INSERT INTO orders SELECT i, now() FROM generate_series(1, 5) i;" >/dev/null
run ferry source add shop --type postgres --set url="$SRC" --set cursor.orders=updated_at
run ferry dest add dw --url "$DST"
run ferry sync shop dw --full --backup-retention 0
# Make the source differ from the destination: a sync that should not have run would show.
q src "UPDATE users SET name = 'changed' WHERE id <= 10; INSERT INTO users VALUES (51, 'new')" >/dev/null

snapshot() {
	printf '%s\n' "$(ferry source list --json)" "$(ferry dest list --json)" \
		"$(q dst "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_tables
		          WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" \
		"$(pg_sum dst users 'id, name, _ferry_synced_at')" \
		"$(q dst "SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_namespace")"
}
SNAP=$(snapshot)
unchanged() {
	local now
	now=$(snapshot)
	if [ "$now" != "$SNAP" ]; then
		{
			echo "FAIL: $T_NAME: $1 changed the state store or the destination"
			diff <(printf '%s\n' "$SNAP") <(printf '%s\n' "$now") | head -n 40
		} >&2
		exit 1
	fi
}

# refused CODE WHAT CMD...: exit CODE ("1|2" for either), a ferry error, nothing changed.
refused() {
	local code=$1 what=$2
	shift 2
	if [ "$code" = "1|2" ]; then
		expect_fail "$@"
	else
		expect_exit "$code" "$@"
	fi
	assert_error_msg
	unchanged "$what"
}

# ---------------------------------------------------------------- unknown names
note "unknown source: suggests the closest name"
refused 2 "unknown source" ferry sync shpo dw
assert_contains "$ERR" "shpo" "the message names what was asked for"
assert_contains "$ERR" "did you mean" "the message suggests a name"
assert_contains "$ERR" "shop" "the suggestion is the closest source"

note "unknown destination: suggests the closest name"
refused 2 "unknown destination" ferry sync shop dww
assert_contains "$ERR" "dww"
assert_contains "$ERR" "did you mean"
assert_contains "$ERR" "\"dw\"" "the suggestion is the closest destination"

note "unknown command"
refused 2 "unknown command" ferry snyc shop dw
assert_contains "$ERR" "snyc"
assert_contains "$ERR" "did you mean" "unknown command suggests one"
assert_contains "$ERR" "sync"
refused 2 "unknown subcommand" ferry source lsit
assert_contains "$ERR" "lsit"

# ---------------------------------------------------------------- malformed URLs
note "malformed URLs are refused when added"
for url in 'mysql://x' 'notaurl' 'postgres://user@host:notaport/db' 'postgres://[::1/db'; do
	refused 2 "dest add --url $url" ferry dest add bad --url "$url"
	assert_contains "$ERR" "url" "the message says the URL is the problem ($url)"
	refused 2 "source add url=$url" ferry source add bad --type postgres --set url="$url"
	assert_contains "$ERR" "url" "the message says the URL is the problem ($url)"
done
refused 2 "source add --type mysql" ferry source add bad --type mysql --set url=mysql://x
assert_contains "$ERR" "mysql" "unknown source type named"
refused 2 "sqlite source without path" ferry source add bad --type sqlite
assert_contains "$ERR" "path" "a sqlite source needs path="
refused 2 "--set without =" ferry source add bad --type postgres --set url
refused 2 "source add without --type" ferry source add bad --set url="$SRC"

# ---------------------------------------------------------------- unreachable, wrong password
note "unreachable host: the message says host:port"
run ferry source add unreach --type postgres --set url="postgres://postgres@127.0.0.1:1/nowhere"
SNAP=$(snapshot)
refused 1 "sync from an unreachable source" ferry sync unreach dw
assert_contains "$ERR" "127.0.0.1:1" "unreachable: the message names host:port"
assert_contains "$ERR" "unreach" "unreachable: the message names the source"
expect_exit 1 ferry source test unreach
assert_error_msg
assert_contains "$ERR" "127.0.0.1:1"
run ferry dest add downdst --url "postgres://postgres@127.0.0.1:1/nowhere"
SNAP=$(snapshot)
refused 1 "sync into an unreachable destination" ferry sync shop downdst
assert_contains "$ERR" "127.0.0.1:1" "unreachable destination: the message names host:port"
assert_contains "$ERR" "downdst" "unreachable destination: the message names the destination"
expect_exit 1 ferry dest test downdst
assert_contains "$ERR" "127.0.0.1:1"

note "wrong password: said, and never printed"
BADPW='Wr0ngPassw0rd_xyz'
run ferry source add badpw --type postgres --set url="postgres://ferry:$BADPW@127.0.0.1:$PGPORT/$(dbname src)"
SNAP=$(snapshot)
refused 1 "sync with a wrong password" ferry sync badpw dw
assert_contains "$ERR" "password" "the message says the password was refused"
assert_contains "$ERR" "badpw" "the message names the source"
assert_not_contains "$OUT$ERR" "$BADPW" "the password never appears in the output"
expect_exit 1 ferry source test badpw
assert_contains "$ERR" "password"
assert_not_contains "$OUT$ERR" "$BADPW" "source test does not print the password"
run ferry dest add badpwdst --url "postgres://ferry:$BADPW@127.0.0.1:$PGPORT/$(dbname dst)"
SNAP=$(snapshot)
refused 1 "sync into a destination with a wrong password" ferry sync shop badpwdst
assert_contains "$ERR" "password"
assert_not_contains "$OUT$ERR" "$BADPW" "the destination password never appears"

# ---------------------------------------------------------------- missing table, unknown stream
note "missing table"
run ferry source add notable --type postgres --set url="$SRC" --set tables=users,nope
SNAP=$(snapshot)
refused "1|2" "a source with a missing table" ferry sync notable dw
assert_contains "$ERR" "nope" "the message names the missing table"
refused "1|2" "a source with a missing table (--full)" ferry sync notable dw --full
assert_contains "$ERR" "nope"
assert_eq 0 "$(pg_staging_count dst)" "a refused full sync leaves no staging table"
unchanged "a refused full sync"

note "unknown stream on sync"
refused "1|2" "an unknown stream" ferry sync shop dw usres
assert_contains "$ERR" "usres" "the message names the unknown stream"
assert_contains "$ERR" "users" "the message suggests the closest stream"
refused "1|2" "an unknown stream (with a good one)" ferry sync shop dw users nope --full
assert_contains "$ERR" "nope"

# ---------------------------------------------------------------- bad options
note "--since that is not a timestamp"
refused 2 "--since notadate" ferry sync shop dw orders --since notadate
assert_contains "$ERR" "notadate" "the message quotes the bad value"
refused 2 "--until notadate" ferry sync shop dw orders --since 2024-01-01 --until 2024-13-45
assert_contains "$ERR" "2024-13-45"
note "--since on a stream without a cursor column"
refused "1|2" "--since on a stream without a cursor" ferry sync shop dw users --since 2024-01-01
assert_contains "$ERR" "users" "the message names the stream"
assert_contains "$ERR" "cursor" "the message says a cursor column is needed"
note "--full with --since"
refused 2 "--full --since" ferry sync shop dw --full --since 2024-01-01
assert_contains "$ERR" "--since" "the message names the conflicting options"
assert_contains "$ERR" "--full"
note "--until before --since"
refused 2 "--until before --since" ferry sync shop dw orders --since 2024-02-01 --until 2024-01-01
note "unknown flag"
refused 2 "unknown flag" ferry sync shop dw --bogus
assert_contains "$ERR" "--bogus" "the message names the unknown flag"
refused 2 "unknown global flag" ferry --bogus source list
note "--batch-size 0 and friends"
refused 2 "--batch-size 0" ferry sync shop dw --batch-size 0
assert_contains "$ERR" "batch-size"
refused 2 "--batch-size abc" ferry sync shop dw --batch-size abc
refused 2 "--batch-size -5" ferry sync shop dw --batch-size -5
refused 2 "--deletes maybe" ferry sync shop dw --full --deletes maybe
assert_contains "$ERR" "maybe"
refused 2 "--backup-retention -1" ferry sync shop dw --full --backup-retention -1
refused 2 "sync without a destination" ferry sync shop
refused 2 "--namespace without a value" ferry sync shop dw --namespace
refused 2 "jobs --limit 0" ferry jobs --limit 0
refused "1|2" "job show notanumber" ferry job show notanumber

# ---------------------------------------------------------------- encryption key
note "missing FERRY_ENCRYPTION_KEY"
NO_KEY=1 refused "1|2" "sync without a key" ferry sync shop dw
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY" "the message names the variable"
NO_KEY=1 refused "1|2" "adding a secret without a key" ferry dest add nokey --url "$DST"
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
NO_KEY=1 refused "1|2" "source test without a key" ferry source test shop
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"

note "wrong FERRY_ENCRYPTION_KEY"
KEY=$OTHER_KEY refused "1|2" "sync with a wrong key" ferry sync shop dw
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY" "a wrong key is named"
KEY=$OTHER_KEY refused "1|2" "source test with a wrong key" ferry source test shop
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
KEY=$OTHER_KEY refused "1|2" "dest test with a wrong key" ferry dest test dw
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"

note "a key that is not 64 hex characters"
for bad in abc123 "$(printf 'z%.0s' {1..64})" "${TEST_KEY}00"; do
	KEY=$bad refused "1|2" "key '$bad'" ferry sync shop dw
	assert_contains "$ERR" "FERRY_ENCRYPTION_KEY" "a malformed key is named"
	assert_contains "$ERR" "64" "the message says what a key looks like"
	assert_not_contains "$ERR" "$bad" "the message does not echo the key"
done

# Everything above failed before writing: the destination still has the first sync.
assert_eq 50 "$(q dst 'SELECT count(*) FROM users')" "destination untouched"
assert_eq 0 "$(q dst "SELECT count(*) FROM users WHERE name = 'changed'")" "destination untouched"
# And the good setup still works.
run ferry sync shop dw --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 51 "$(q dst 'SELECT count(*) FROM users')"
pass
