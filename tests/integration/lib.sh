# lib.sh - sourced by every tests/integration/t_*.sh.
#
# Gives each test: strict mode, the throwaway cluster's address (pg.env written
# by pg_cluster.sh), a scratch directory, a `ferry` that uses a per-test state
# store and a fixed test key, database helpers and assertions that say what was
# expected and what came.
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   FERRY_BIN        the ferry binary under test
#   FERRY_TEST_ROOT  scratch root of this build (<build>/it); pg.env lives here
#   FERRY_SRC        the repository root
#
# Run one test by hand:
#   FERRY_TEST_ROOT=/tmp/it bash tests/integration/pg_cluster.sh start
#   FERRY_BIN=$PWD/build/ferry FERRY_TEST_ROOT=/tmp/it FERRY_SRC=$PWD bash tests/integration/t_cli.sh
set -euo pipefail
set -E

: "${FERRY_BIN:?FERRY_BIN must be set (the ferry binary)}"
: "${FERRY_TEST_ROOT:?FERRY_TEST_ROOT must be set}"
: "${FERRY_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
FERRY_BIN=$(readlink -f "$FERRY_BIN")
if [ ! -x "$FERRY_BIN" ]; then
	echo "FAIL: FERRY_BIN=$FERRY_BIN is not an executable" >&2
	exit 1
fi
if [ ! -f "$FERRY_TEST_ROOT/pg.env" ]; then
	echo "FAIL: $FERRY_TEST_ROOT/pg.env missing: start the cluster first (pg_cluster.sh start)" >&2
	exit 1
fi
set -a
# shellcheck disable=SC1091
. "$FERRY_TEST_ROOT/pg.env"
set +a
export PGHOST=127.0.0.1 PGUSER=postgres PGPORT
export PGCONNECT_TIMEOUT=10
export PGOPTIONS="-c client_min_messages=warning"
unset PGPASSWORD PGDATABASE

T_NAME=$(basename "$0" .sh)
T_PREFIX=${T_NAME#t_}
T_DIR=$FERRY_TEST_ROOT/$T_NAME
rm -rf "$T_DIR"
mkdir -p "$T_DIR"
export T_DIR

# A fixed key, so failures reproduce; another one to play "wrong key".
TEST_KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0
OTHER_KEY=a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90
STORE=$T_DIR/ferry.db

# Sanitizer builds: make a sanitizer report fail the run loudly.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_on_err() {
	local rc=$? line=${BASH_LINENO[0]} cmd=$BASH_COMMAND
	echo "FAIL: $T_NAME: line $line: \`$cmd\` exited $rc" >&2
}
trap _on_err ERR

fail() {
	echo "FAIL: $T_NAME: $*" >&2
	exit 1
}

note() { echo "-- $*"; }

# ---------------------------------------------------------------- ferry

# ferry ARGS...: the binary with this test's state store and key.
#   KEY=<hex> ferry ...      another key
#   NO_KEY=1 ferry ...       FERRY_ENCRYPTION_KEY unset
#   STORE=<path> ferry ...   another state store
ferry() {
	if [ -n "${NO_KEY:-}" ]; then
		env -u FERRY_ENCRYPTION_KEY FERRY_DATABASE_URL="$STORE" "$FERRY_BIN" "$@"
	else
		FERRY_DATABASE_URL="$STORE" FERRY_ENCRYPTION_KEY="${KEY:-$TEST_KEY}" "$FERRY_BIN" "$@"
	fi
}

# ferry_bg LOGPREFIX ARGS...: start ferry in the background (stdout/stderr to
# LOGPREFIX.out/.err); FERRY_PID is the ferry process itself, not a subshell.
ferry_bg() {
	local log=$1
	shift
	FERRY_DATABASE_URL="$STORE" FERRY_ENCRYPTION_KEY="${KEY:-$TEST_KEY}" \
		"$FERRY_BIN" "$@" >"$log.out" 2>"$log.err" &
	FERRY_PID=$!
}

# wait_pid PID: wait for a ferry_bg process; its exit status goes into $RC
# (not a $(...) subshell: only this shell can wait for its children).
wait_pid() {
	RC=0
	wait "$1" 2>/dev/null || RC=$?
}

_check_sanitizers() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$1"; then
		echo "FAIL: $T_NAME: sanitizer report from: $2" >&2
		cat "$1" >&2
		exit 1
	fi
}

# expect_exit CODE CMD...: run CMD, stdout into $OUT and stderr into $ERR,
# and fail unless it exits CODE.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$T_DIR/.out" 2>"$T_DIR/.err" || rc=$?
	OUT=$(cat "$T_DIR/.out")
	ERR=$(cat "$T_DIR/.err")
	_check_sanitizers "$T_DIR/.err" "$*"
	if [ "$rc" != "$want" ]; then
		{
			echo "FAIL: $T_NAME: expected exit $want, got $rc from: $*"
			echo "--- stdout:"
			printf '%s\n' "$OUT" | head -c 4000
			echo "--- stderr:"
			printf '%s\n' "$ERR" | head -c 4000
		} >&2
		exit 1
	fi
}

# expect_fail CMD...: CMD must fail cleanly: exit 1 (runtime error) or 2 (usage
# error), not 0 and not a crash or a signal. $RC is the code it gave.
expect_fail() {
	RC=0
	"$@" >"$T_DIR/.out" 2>"$T_DIR/.err" || RC=$?
	OUT=$(cat "$T_DIR/.out")
	ERR=$(cat "$T_DIR/.err")
	_check_sanitizers "$T_DIR/.err" "$*"
	if [ "$RC" != 1 ] && [ "$RC" != 2 ]; then
		{
			echo "FAIL: $T_NAME: expected a clean failure (exit 1 or 2), got $RC from: $*"
			echo "--- stdout:"
			printf '%s\n' "$OUT" | head -c 4000
			echo "--- stderr:"
			printf '%s\n' "$ERR" | head -c 4000
		} >&2
		exit 1
	fi
}

# run CMD...: expect_exit 0.
run() { expect_exit 0 "$@"; }

# ---------------------------------------------------------------- assertions

assert_eq() {
	local want=$1 got=$2 msg=${3:-}
	if [ "$want" != "$got" ]; then
		{
			echo "FAIL: $T_NAME: ${msg:-values differ}"
			echo "  expected: $(printf '%s' "$want" | head -c 2000)"
			echo "  actual:   $(printf '%s' "$got" | head -c 2000)"
		} >&2
		exit 1
	fi
}

assert_ne() {
	local a=$1 b=$2 msg=${3:-}
	if [ "$a" = "$b" ]; then
		echo "FAIL: $T_NAME: ${msg:-values should differ}: both are \"$(printf '%s' "$a" | head -c 2000)\"" >&2
		exit 1
	fi
}

# assert_contains HAYSTACK NEEDLE [MSG] (case-insensitive)
assert_contains() {
	local hay=$1 needle=$2 msg=${3:-}
	if ! grep -qiF -- "$needle" <<<"$hay"; then
		{
			echo "FAIL: $T_NAME: ${msg:-missing text}"
			echo "  expected to contain: $needle"
			echo "  actual: $(printf '%s' "$hay" | head -c 3000)"
		} >&2
		exit 1
	fi
}

assert_not_contains() {
	local hay=$1 needle=$2 msg=${3:-}
	if grep -qiF -- "$needle" <<<"$hay"; then
		{
			echo "FAIL: $T_NAME: ${msg:-unexpected text}"
			echo "  expected NOT to contain: $needle"
			echo "  actual: $(printf '%s' "$hay" | head -c 3000)"
		} >&2
		exit 1
	fi
}

assert_match() {
	local hay=$1 re=$2 msg=${3:-}
	if ! grep -qE -- "$re" <<<"$hay"; then
		{
			echo "FAIL: $T_NAME: ${msg:-no match}"
			echo "  expected to match: $re"
			echo "  actual: $(printf '%s' "$hay" | head -c 3000)"
		} >&2
		exit 1
	fi
}

# assert_error_msg: the last command's stderr is a ferry error (starts with
# "ferry") and not a crash.
assert_error_msg() {
	if [ -z "$ERR" ]; then
		fail "expected an error message on stderr, got nothing (stdout: $OUT)"
	fi
	assert_match "$ERR" '^ferry' "error messages begin with \"ferry\""
}

# jf JSON FILTER: jq -r, failing the test if the JSON does not parse.
jf() {
	local out
	if ! out=$(printf '%s' "$1" | jq -r "$2" 2>&1); then
		fail "jq '$2' failed on: $(printf '%s' "$1" | head -c 2000): $out"
	fi
	printf '%s\n' "$out"
}

# stream_counts JSON STREAM: "read inserted updated unchanged deleted" of one
# stream in a `sync --json` report.
stream_counts() {
	jf "$1" ".streams[] | select(.name == \"$2\") | \"\(.read) \(.inserted) \(.updated) \(.unchanged) \(.deleted)\""
}

# ---------------------------------------------------------------- databases

# dbname NAME: the real database name of NAME (prefixed with the test's name so
# tests running in parallel never share a database).
dbname() { printf '%s_%s' "$T_PREFIX" "$1"; }

# newdb NAME: (re)create an empty database; echoes its URL.
newdb() {
	local db
	db=$(dbname "$1")
	psql -X -q -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
		-c "CREATE DATABASE \"$db\"" >/dev/null
	echo "postgres://postgres@127.0.0.1:$PGPORT/$db"
}

# dburl NAME: URL of an existing database.
dburl() { echo "postgres://postgres@127.0.0.1:$PGPORT/$(dbname "$1")"; }

# q DB SQL: run SQL (psql -At), print the result.
q() {
	psql -X -At -v ON_ERROR_STOP=1 -d "$(dbname "$1")" -c "$2"
}

# qf DB FILE-or-heredoc: run a script from stdin.
qs() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dbname "$1")" >/dev/null
}

# sq FILE SQL: sqlite3 query.
sq() {
	sqlite3 -batch -bail "$1" "$2"
}

# pg_sum DB RELATION COLS: "count md5" of the rows (COLS selected), order-independent.
pg_sum() {
	q "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-')
	        FROM (SELECT $3 FROM $2) x"
}

# pg_has_table DB SCHEMA TABLE -> "t" or "f"
pg_has_table() {
	q "$1" "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = '$2' AND tablename = '$3')"
}

# pg_staging_count DB: how many *_staging_* tables exist in any schema.
pg_staging_count() {
	q "$1" "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_staging\\_%'"
}

pg_backup_count() {
	q "$1" "SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_backup\\_%'"
}

# pg_columns DB SCHEMA TABLE: comma-separated column names (attnum order).
pg_columns() {
	q "$1" "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
	        WHERE table_schema = '$2' AND table_name = '$3'"
}

pass() {
	echo "ok"
	exit 0
}

# ---------------------------------------------------------------- API test peers
#
# Real HTTP servers on 127.0.0.1 that API sources sync from (tests/peers/start.sh
# lists them: json-server, graphql, stripe, wiremock, relay, FILE.js).
#
#   peer_start NAME [ARGS...]   start one on a free port; sets PEER_PORT, PEER_PID
#                               (its process group) and PEER_LOG; fails the test
#                               if it does not answer within 30 s
#   peer_stop [PID]             stop one peer (default: every peer of this test)
#   free_port                   a port nothing listens on (20000-31999)
#
# Peers are stopped when the test exits (an EXIT trap; a test that sets its own
# EXIT trap must call peer_stop in it), and stop by themselves within a second
# if the test is killed.

PEER_HOME=$FERRY_SRC/tests/peers
_PEER_PIDS=()

free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	fail "free_port: no free port found in 200 tries"
}

# _peer_listening PID PORT: a process of PID's group listens on 127.0.0.1:PORT.
_peer_listening() {
	local pid=$1 port=$2 line lpid pgid
	line=$(ss -Hltnp "sport = :$port" 2>/dev/null) || return 1
	[ -n "$line" ] || return 1
	if ! grep -q 'pid=' <<<"$line"; then
		return 0 # ss cannot show owners here: trust the answer below
	fi
	for lpid in $(grep -o 'pid=[0-9]*' <<<"$line" | cut -d= -f2); do
		pgid=$(ps -o pgid= -p "$lpid" 2>/dev/null || true)
		if [ "${pgid// /}" = "$pid" ]; then
			return 0
		fi
	done
	return 1
}

# The EXIT trap: the test's exit status stays what it was.
_peer_cleanup() {
	peer_stop || true
}

peer_start() {
	local name=$1 attempt port pid log i
	shift
	if [[ $name != *.js ]] && [ ! -d "$PEER_HOME/node_modules" ]; then
		fail "API test peers are not installed: run 'bash tests/peers/install.sh' (scripts/test.sh does)"
	fi
	if [ ${#_PEER_PIDS[@]} -eq 0 ]; then
		trap _peer_cleanup EXIT
	fi
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		log=$T_DIR/peer-$(basename "$name" .js)-$port.log
		# setsid: the peer gets a process group of its own (its id is $!),
		# so peer_stop ends it and whatever it started, and nothing else.
		(cd "$T_DIR" && FERRY_PEER_OWNER=$$ exec setsid bash "$PEER_HOME/start.sh" \
			"$name" "$port" "$@" >"$log" 2>&1 </dev/null) &
		pid=$!
		_PEER_PIDS+=("$pid")
		for i in $(seq 1 300); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if _peer_listening "$pid" "$port" &&
				curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
				PEER_PORT=$port PEER_PID=$pid PEER_LOG=$log
				return 0
			fi
			sleep 0.1
		done
		peer_stop "$pid"
		# Somebody took the port between free_port and the listen: try another.
		if grep -qiE 'EADDRINUSE|address already in use|failed to bind' "$log"; then
			continue
		fi
		{
			echo "FAIL: $T_NAME: peer $name did not answer on 127.0.0.1:$port; its log ($log):"
			tail -n 30 "$log"
		} >&2
		exit 1
	done
	fail "peer $name: 5 ports in a row were taken"
}

peer_stop() {
	local pids=("$@") pid i left=()
	if [ $# -eq 0 ]; then
		pids=("${_PEER_PIDS[@]}")
	fi
	for pid in "${pids[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for i in $(seq 1 50); do
			kill -0 -- "-$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for pid in "${_PEER_PIDS[@]}"; do
		[[ " ${pids[*]} " == *" $pid "* ]] || left+=("$pid")
	done
	_PEER_PIDS=("${left[@]}")
}

# peer_url PORT [PATH]: http://127.0.0.1:PORT/PATH
peer_url() { echo "http://127.0.0.1:$1${2:-}"; }

# api_source NAME MANIFEST BASE_URL [--set k=v ...]: a generic REST/GraphQL source
# (`ferry source add NAME --type rest --set manifest=... --set base_url=...`).
api_source() {
	local name=$1 manifest=$2 base=$3
	shift 3
	run ferry source add "$name" --type rest --set manifest="$manifest" --set base_url="$base" "$@"
}

# pg_coltype DB TABLE COLUMN: format_type() of a column ("bigint", "jsonb", ...), "" if none.
pg_coltype() {
	q "$1" "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	        WHERE attrelid = to_regclass('$2') AND attname = '$3' AND attnum > 0 AND NOT attisdropped"
}

# pg_pkey DB TABLE: the primary key's columns, comma-separated.
pg_pkey() {
	q "$1" "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey::int2[], a.attnum))
	        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	        WHERE i.indrelid = to_regclass('$2') AND i.indisprimary"
}
