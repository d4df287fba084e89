#!/usr/bin/env bash
# bench/run.sh - ferry benchmarks against a raw COPY pipe and pgloader.
#
#   bash bench/run.sh all          # pg2pg, sqlite2pg, incremental
#   bash bench/run.sh pg2pg        # PostgreSQL -> PostgreSQL, 1M pgbench_accounts rows
#   bash bench/run.sh sqlite2pg    # SQLite -> PostgreSQL, 1M rows
#   bash bench/run.sh incremental  # incremental sync of the 1M-row table, nothing changed
#   bash bench/run.sh api          # API sources (bench/api.sh): Stripe mock, nginx pages
#   bash bench/run.sh api-stripe   # ferry vs Stripe's sync engines on a Stripe mock
#   bash bench/run.sh api-nginx    # static Stripe list pages from nginx
#   bash bench/run.sh http         # the HTTP API under wrk (bench/http.sh; no cluster)
#
# Environment (all optional):
#   BENCH_RUNS=7            timed runs per contender (median reported)
#   BENCH_PGLOADER_RUNS=3   timed runs of pgloader (it is the slowest)
#   BENCH_FSYNC=off         fsync setting of the throwaway cluster (off|on)
#   BENCH_PORT=55600        port of the throwaway cluster (127.0.0.1 only)
#   BENCH_DIR=/tmp/ferry-bench   scratch directory (removed at the end)
#   FERRY=build/ferry       the binary to measure (built with CMake if missing)
#   BENCH_KEEP=1            keep BENCH_DIR (outputs of every run) at the end
#
# The script starts its own PostgreSQL 15 cluster under BENCH_DIR, runs every
# contender against it with the same settings, interleaving the contenders run
# by run, and stops the cluster at the end. Each timed run loads into a freshly
# created, empty target database; the reset (DROP/CREATE DATABASE, CHECKPOINT)
# is not timed. Wall time is measured around /usr/bin/time, which also gives
# the peak RSS and CPU time of the client processes (ferry, pgloader, psql/sqlite3; never
# the PostgreSQL server's backends). Every run is checked: exit status 0 and
# the row count of the target table; ferry's --json counts are checked too.
# A failed check stops the benchmark with an error.
set -euo pipefail

WHAT=${1:-all}
case "$WHAT" in
pg2pg | sqlite2pg | incremental | all | api | api-stripe | api-nginx) ;;
http) exec bash "$(dirname "${BASH_SOURCE[0]}")/http.sh" ;;
-h | --help | help)
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: bash bench/run.sh pg2pg|sqlite2pg|incremental|all|api|api-stripe|api-nginx|http" >&2
	exit 2
	;;
esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PORT:-55600}
RUNS=${BENCH_RUNS:-7}
PGL_RUNS=${BENCH_PGLOADER_RUNS:-3}
FSYNC=${BENCH_FSYNC:-off}
WORK=${BENCH_DIR:-/tmp/ferry-bench}
FERRY=${FERRY:-$REPO/build/ferry}
NROWS=1000000

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench: FAILED: $*"
	exit 1
}

# ---- tools ----------------------------------------------------------------------

need=()
command -v pgloader >/dev/null || need+=(pgloader)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
[ -x /usr/bin/pgbench ] || [ -x "$PGBIN/pgbench" ] || need+=(postgresql-contrib)
[ -x "$PGBIN/initdb" ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
	log "bench: installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PGBENCH=$PGBIN/pgbench
[ -x "$PGBENCH" ] || PGBENCH=/usr/bin/pgbench

if [ ! -x "$FERRY" ]; then
	log "bench: building ferry (Release)"
	cmake -S "$REPO" -B "$REPO/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$REPO/build" -j2 >/dev/null
fi
FERRY=$(readlink -f "$FERRY")

# ---- throwaway cluster ------------------------------------------------------------

PGDATA=$WORK/pgdata
URL=postgres://postgres@127.0.0.1:$PORT

stop_cluster() {
	if [ -f "$PGDATA/postmaster.pid" ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}

if ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT "; then
	die "port $PORT is in use; set BENCH_PORT"
fi
if [ -e "$WORK" ] && [ ! -e "$WORK/.ferry-bench" ]; then
	die "$WORK exists and was not made by this script; set BENCH_DIR"
fi
rm -rf "$WORK"
mkdir -p "$WORK/sock" "$WORK/out" "$PGDATA"
chmod 755 "$WORK"
touch "$WORK/.ferry-bench"
chmod 700 "$PGDATA"
chown postgres "$WORK/sock" "$PGDATA"
trap stop_cluster EXIT

log "bench: starting PostgreSQL on 127.0.0.1:$PORT (fsync=$FSYNC) in $PGDATA"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
# ferry bench: bulk-load settings, identical for every contender
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK/sock'
fsync = $FSYNC
shared_buffers = 1GB
maintenance_work_mem = 512MB
work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 1h
autovacuum = off
max_connections = 50
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/../sock/pg.log" -w start >/dev/null

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
sql() { # sql DB STATEMENT...
	local db=$1
	shift
	PGOPTIONS='-c client_min_messages=warning' "${PSQL[@]}" -d "$db" -At -c "$*"
}
count_rows() { # count_rows DB TABLE -> row count (or "missing")
	sql "$1" "SELECT count(*) FROM $2" 2>/dev/null || echo missing
}
fresh_db() { # drops and recreates DB, then checkpoints so no run pays for the last
	sql postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
	sql postgres "CREATE DATABASE $1"
	sql postgres "CHECKPOINT"
}

# ferry's own state store and key, private to this run
export FERRY_DATABASE_URL=$WORK/ferry-state.db
FERRY_ENCRYPTION_KEY=$("$FERRY" keygen)
export FERRY_ENCRYPTION_KEY
"$FERRY" dest add dst --url "$URL/dst" >/dev/null

# ---- measurement ------------------------------------------------------------------

RESULTS=$WORK/results.tsv # bench, contender, run, seconds, peak RSS kB, client CPU s
: >"$RESULTS"
LAST_OUT=

# measure BENCH CONTENDER RUN COMMAND: runs COMMAND under /usr/bin/time, records
# wall seconds and peak RSS; stdout goes to $LAST_OUT, fails on a non-zero exit.
measure() {
	local bench=$1 who=$2 run=$3 cmd=$4 t0 t1 rc=0 rss usr sys secs
	LAST_OUT=$WORK/out/$bench.$who.$run
	t0=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$LAST_OUT.rss" bash -c "set -o pipefail; $cmd" \
		>"$LAST_OUT" 2>"$LAST_OUT.err" || rc=$?
	t1=$(date +%s%N)
	if [ "$rc" -ne 0 ]; then
		log "bench: $bench/$who run $run exited with $rc: $cmd"
		tail -n 20 "$LAST_OUT.err" >&2 || true
		tail -n 5 "$LAST_OUT" >&2 || true
		die "$bench/$who"
	fi
	read -r rss usr sys < <(tail -n 1 "$LAST_OUT.rss")
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$who" "$run" "$secs" "$rss" \
		"$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" >>"$RESULTS"
	log "  $bench $who run $run: ${secs}s, peak RSS $((rss / 1024)) MB, client CPU ${usr}u+${sys}s"
}

# check_count DB TABLE: the target table must hold exactly NROWS rows
check_count() {
	local n
	n=$(count_rows "$1" "$2")
	[ "$n" = "$NROWS" ] || die "$1.$2 has $n rows after the run, expected $NROWS"
}

# check_ferry_json FILE MODE EXPECT: ferry's --json must say succeeded, with the
# stream's counts matching EXPECT (a jq boolean expression on .streams[0])
check_ferry_json() {
	local f=$1 mode=$2 expect=$3
	jq -e --arg mode "$mode" '.status == "succeeded" and .mode == $mode' "$f" >/dev/null ||
		die "ferry did not report a succeeded $mode job: $(cat "$f")"
	jq -e ".streams | length == 1 and (.[0] | $expect)" "$f" >/dev/null ||
		die "ferry's counts are not as expected ($expect): $(cat "$f")"
}

describe_table() { # describe_table DB TABLE -> one line: columns and indexes
	sql "$1" "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped"
	sql "$1" "SELECT coalesce(string_agg(indexdef, '; '), 'no index') FROM pg_indexes WHERE tablename = '$2'"
}

median() { # median BENCH CONTENDER [FIELD] -> median of the field (4: seconds, 6: client CPU)
	awk -F'\t' -v b="$1" -v w="$2" -v f="${3:-4}" '$1 == b && $2 == w { print $f }' "$RESULTS" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maxrss_mb() { # maxrss_mb BENCH CONTENDER -> largest peak RSS over the runs, MB
	awk -F'\t' -v b="$1" -v w="$2" '$1 == b && $2 == w && $5 > m { m = $5 } END { printf "%.1f", m / 1024 }' "$RESULTS"
}
nruns() { awk -F'\t' -v b="$1" -v w="$2" '$1 == b && $2 == w' "$RESULTS" | wc -l; }
all_runs() { awk -F'\t' -v b="$1" -v w="$2" '$1 == b && $2 == w { printf "%s%s", s, $4; s = " " }' "$RESULTS"; }

# table BENCH REF CONTENDER...: prints the summary; ratios are rows/s against REF
table() {
	local bench=$1 ref=$2 who med refmed
	shift 2
	refmed=$(median "$bench" "$ref")
	printf '\n== %s: %s rows, fsync=%s, median of the runs (load average after: %s) ==\n' \
		"$bench" "$NROWS" "$FSYNC" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-18s %4s %9s %11s %8s %10s %10s  %s\n' contender runs median_s rows_per_s vs_$ref peak_rss client_cpu all_runs_s
	for who in "$@"; do
		med=$(median "$bench" "$who")
		[ "$med" != "-" ] || continue
		awk -v w="$who" -v n="$(nruns "$bench" "$who")" -v m="$med" -v r="$refmed" -v rows="$NROWS" \
			-v rss="$(maxrss_mb "$bench" "$who")" -v all="$(all_runs "$bench" "$who")" -v cpu="$(median "$bench" "$who" 6)" \
			'BEGIN { printf "%-18s %4d %9.3f %11.0f %7.2fx %7s MB %8.2f s  %s\n", w, n, m, rows / m, r / m, rss, cpu, all }'
	done
}

# ---- 1. PostgreSQL -> PostgreSQL -----------------------------------------------------

ACCOUNTS_DDL="CREATE TABLE pgbench_accounts (aid integer NOT NULL, bid integer, abalance integer, filler character(84)) WITH (fillfactor = 100)"

setup_pgbench() {
	[ -z "${PGBENCH_DONE:-}" ] || return 0
	log "bench: pgbench -i -s 10 in database src"
	sql postgres "CREATE DATABASE src"
	"$PGBENCH" -i -s 10 -q -h 127.0.0.1 -p "$PORT" -U postgres src >/dev/null 2>&1 ||
		die "pgbench -i failed"
	[ "$(count_rows src pgbench_accounts)" = "$NROWS" ] || die "pgbench did not create $NROWS rows"
	sql src "VACUUM ANALYZE pgbench_accounts"
	"$FERRY" source add src --type postgres --set "url=$URL/src" --set tables=pgbench_accounts >/dev/null
	PGBENCH_DONE=1
}

bench_pg2pg() {
	setup_pgbench
	local pgl=$WORK/pg2pg.load
	cat >"$pgl" <<EOF
LOAD DATABASE
     FROM pgsql://postgres@127.0.0.1:$PORT/src
     INTO pgsql://postgres@127.0.0.1:$PORT/dst
 WITH include drop, create tables, create indexes, reset sequences, foreign keys
 INCLUDING ONLY TABLE NAMES MATCHING 'pgbench_accounts' IN SCHEMA 'public';
EOF
	# warm-up, not timed: the source table in cache for everybody
	sql src "COPY pgbench_accounts TO STDOUT" >/dev/null
	log "bench: pg2pg, $RUNS runs (pgloader $PGL_RUNS)"
	local i
	for i in $(seq 1 "$RUNS"); do
		# (a) raw pipe into a pre-created table; PK built after the load (timed)
		fresh_db dst
		sql dst "$ACCOUNTS_DDL"
		measure pg2pg pipe "$i" "${PSQL[*]} -d src -c 'COPY pgbench_accounts TO STDOUT' |
			${PSQL[*]} -d dst -c 'COPY pgbench_accounts FROM STDIN' &&
			${PSQL[*]} -d dst -c 'ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)'"
		check_count dst pgbench_accounts

		# (a') the same pipe shaped like ferry's load: CREATE TABLE, COPY ... WITH
		# (FREEZE) and the PK in one transaction (one psql reading a script whose
		# COPY data comes from the source psql)
		fresh_db dst
		measure pg2pg pipe-freeze "$i" "{ echo 'BEGIN; $ACCOUNTS_DDL; COPY pgbench_accounts FROM STDIN WITH (FREEZE);';
			${PSQL[*]} -d src -c 'COPY pgbench_accounts TO STDOUT'; echo '\\.';
			echo 'ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid); COMMIT;'; } | ${PSQL[*]} -d dst"
		check_count dst pgbench_accounts

		# (b) ferry --full: creates the table, COPY FREEZE, PK, swap
		fresh_db dst
		measure pg2pg ferry "$i" "'$FERRY' sync src dst pgbench_accounts --full --backup-retention 0 --json"
		check_ferry_json "$LAST_OUT" full ".read == $NROWS and .inserted == $NROWS"
		check_count dst pgbench_accounts

		# (c) pgloader pgsql -> pgsql
		if [ "$i" -le "$PGL_RUNS" ]; then
			fresh_db dst
			measure pg2pg pgloader "$i" "pgloader '$pgl'"
			check_count dst pgbench_accounts
			[ "$i" -gt 1 ] || log "    pgloader created: $(describe_table dst pgbench_accounts | paste -sd'|')"
		fi

		# where the time goes: each side of the pipe alone (informational)
		measure pg2pg "source-side-only" "$i" "${PSQL[*]} -d src -c 'COPY pgbench_accounts TO STDOUT' >'$WORK/accounts.copy'"
		fresh_db dst
		sql dst "$ACCOUNTS_DDL"
		measure pg2pg "dest-side-only" "$i" "${PSQL[*]} -d dst -c 'COPY pgbench_accounts FROM STDIN' <'$WORK/accounts.copy' &&
			${PSQL[*]} -d dst -c 'ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)'"
		check_count dst pgbench_accounts
		rm -f "$WORK/accounts.copy"
	done
	table pg2pg pipe pipe pipe-freeze ferry pgloader source-side-only dest-side-only
}

# ---- 2. SQLite -> PostgreSQL ---------------------------------------------------------

bench_sqlite2pg() {
	local db=$WORK/accounts.sqlite pgl=$WORK/sqlite2pg.load i
	log "bench: generating $NROWS rows in $db"
	sqlite3 "$db" <<EOF
CREATE TABLE accounts (aid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler TEXT NOT NULL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $NROWS)
INSERT INTO accounts SELECT x, (x - 1) / 100000 + 1, (x * 7919) % 100001 - 50000, printf('%-84s', 'account ' || x) FROM n;
EOF
	[ "$(sqlite3 "$db" 'SELECT count(*) FROM accounts')" = "$NROWS" ] || die "sqlite generation failed"
	chmod 644 "$db"
	"$FERRY" source add lite --type sqlite --set "path=$db" >/dev/null
	# the pipe's target gets the column types ferry creates for this table
	# (read from one untimed ferry run), without ferry's _ferry_synced_at
	fresh_db dst
	"$FERRY" sync lite dst accounts --full --backup-retention 0 --json >"$WORK/out/sqlite2pg.probe" ||
		die "ferry sqlite -> pg probe run failed: $(cat "$WORK/out/sqlite2pg.probe")"
	local ddl
	ddl=$(sql dst "SELECT 'CREATE TABLE accounts (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY attnum) || ')' FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> '_ferry_synced_at'")
	log "bench: pipe target: $ddl"
	cat >"$pgl" <<EOF
LOAD DATABASE
     FROM sqlite://$db
     INTO pgsql://postgres@127.0.0.1:$PORT/dst
 WITH include drop, create tables, create indexes, reset sequences
 INCLUDING ONLY TABLE NAMES LIKE 'accounts';
EOF
	cat "$db" >/dev/null # warm-up: the file in the page cache for everybody
	log "bench: sqlite2pg, $RUNS runs (pgloader $PGL_RUNS)"
	for i in $(seq 1 "$RUNS"); do
		fresh_db dst
		sql dst "$ddl"
		measure sqlite2pg pipe "$i" "sqlite3 -csv '$db' 'SELECT * FROM accounts' |
			${PSQL[*]} -d dst -c '\\copy accounts FROM STDIN WITH (FORMAT csv)' &&
			${PSQL[*]} -d dst -c 'ALTER TABLE accounts ADD PRIMARY KEY (aid)'"
		check_count dst accounts

		fresh_db dst
		measure sqlite2pg pipe-freeze "$i" "{ echo 'BEGIN; $ddl; COPY accounts FROM STDIN WITH (FORMAT csv, FREEZE);';
			sqlite3 -csv '$db' 'SELECT * FROM accounts'; echo '\\.';
			echo 'ALTER TABLE accounts ADD PRIMARY KEY (aid); COMMIT;'; } | ${PSQL[*]} -d dst"
		check_count dst accounts

		fresh_db dst
		measure sqlite2pg ferry "$i" "'$FERRY' sync lite dst accounts --full --backup-retention 0 --json"
		check_ferry_json "$LAST_OUT" full ".read == $NROWS and .inserted == $NROWS"
		check_count dst accounts

		if [ "$i" -le "$PGL_RUNS" ]; then
			fresh_db dst
			measure sqlite2pg pgloader "$i" "pgloader '$pgl'"
			check_count dst accounts
			[ "$i" -gt 1 ] || log "    pgloader created: $(describe_table dst accounts | paste -sd'|')"
		fi

		measure sqlite2pg "source-side-only" "$i" "sqlite3 -csv '$db' 'SELECT * FROM accounts' >/dev/null"
	done
	table sqlite2pg pipe pipe pipe-freeze ferry pgloader source-side-only
}

# ---- 3. incremental, nothing changed -------------------------------------------------

bench_incremental() {
	setup_pgbench
	local i
	# the same table with a cursor column: distinct, increasing updated_at
	sql src "DROP TABLE IF EXISTS accounts_cur"
	sql src "CREATE TABLE accounts_cur AS SELECT aid, bid, abalance, filler,
		timestamptz '2024-01-01 00:00:00+00' + aid * interval '1 second' AS updated_at FROM pgbench_accounts"
	sql src "ALTER TABLE accounts_cur ADD PRIMARY KEY (aid); CREATE INDEX ON accounts_cur (updated_at)"
	sql src "VACUUM ANALYZE accounts_cur"
	"$FERRY" source add srccur --type postgres --set "url=$URL/src" --set tables=accounts_cur \
		--set cursor.accounts_cur=updated_at >/dev/null

	fresh_db dst
	log "bench: incremental: initial full syncs (not timed)"
	"$FERRY" sync src dst pgbench_accounts --full --backup-retention 0 --json >"$WORK/out/inc.full1" ||
		die "initial full sync failed: $(cat "$WORK/out/inc.full1")"
	check_ferry_json "$WORK/out/inc.full1" full ".inserted == $NROWS"
	"$FERRY" sync srccur dst accounts_cur --full --backup-retention 0 --json >"$WORK/out/inc.full2" ||
		die "initial full sync (cursor table) failed: $(cat "$WORK/out/inc.full2")"
	check_ferry_json "$WORK/out/inc.full2" full ".inserted == $NROWS"
	# one incremental run of each, untimed, so the timed runs start from a stored cursor
	"$FERRY" sync srccur dst accounts_cur --json >"$WORK/out/inc.first" ||
		die "first incremental sync (cursor table) failed: $(cat "$WORK/out/inc.first")"
	log "bench: first incremental run after the full sync (cursor table): $(jq -c '.streams[0] | {read, inserted, updated, unchanged}' "$WORK/out/inc.first")"
	sql postgres CHECKPOINT

	log "bench: incremental, $RUNS runs each"
	for i in $(seq 1 "$RUNS"); do
		measure incremental "no-cursor" "$i" "'$FERRY' sync src dst pgbench_accounts --json"
		check_ferry_json "$LAST_OUT" incremental \
			".read == $NROWS and .unchanged == $NROWS and .inserted == 0 and .updated == 0"
		check_count dst pgbench_accounts
		measure incremental "cursor" "$i" "'$FERRY' sync srccur dst accounts_cur --json"
		check_ferry_json "$LAST_OUT" incremental ".read < 10 and .inserted == 0 and .updated == 0"
		check_count dst accounts_cur
		log "    cursor run read $(jq '.streams[0].read' "$LAST_OUT") row(s)"
	done
	# for scale, in the same run: a full sync of the same table over the live one
	# (it also compares the old and new tables to count deleted rows)
	for i in $(seq 1 "$RUNS"); do
		measure incremental "full-over-live" "$i" "'$FERRY' sync src dst pgbench_accounts --full --backup-retention 0 --json"
		check_ferry_json "$LAST_OUT" full ".read == $NROWS and .deleted == 0"
		check_count dst pgbench_accounts
	done
	printf '\n== incremental: 1M-row table already synced, nothing changed, fsync=%s, median of the runs (load average after: %s) ==\n' \
		"$FSYNC" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-18s %4s %9s %10s %10s %10s  %s\n' contender runs median_s rows_read peak_rss client_cpu all_runs_s
	local who read
	for who in no-cursor cursor full-over-live; do
		read=$(jq '.streams[0].read' "$WORK/out/incremental.$who.$RUNS")
		printf '%-18s %4d %9.3f %10s %7s MB %8.2f s  %s\n' "$who" "$(nruns incremental "$who")" \
			"$(median incremental "$who")" "$read" "$(maxrss_mb incremental "$who")" \
			"$(median incremental "$who" 6)" "$(all_runs incremental "$who")"
	done
}

# ---- 4. API sources: bench/api.sh ---------------------------------------------------

# shellcheck source=bench/api.sh
. "$REPO/bench/api.sh"

# ---- main ------------------------------------------------------------------------------

log "bench: $("$FERRY" --version | head -n 1) at $FERRY; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/ { print $2 }') GB RAM, $("${PSQL[@]}" -d postgres -At -c 'SHOW server_version')"
case "$WHAT" in
pg2pg) bench_pg2pg ;;
sqlite2pg) bench_sqlite2pg ;;
incremental) bench_incremental ;;
all)
	bench_pg2pg
	bench_sqlite2pg
	bench_incremental
	;;
api) bench_api all ;;
api-stripe) bench_api stripe ;;
api-nginx) bench_api nginx ;;
esac
echo
case "$WHAT" in
api*) echo "targets: ferry >= 8x the Stripe sync engines (stripe); ferry >= 200,000 records/s (nginx)" ;;
*) echo "targets: ferry >= 0.9x the pipe (pg2pg, sqlite2pg); ferry peak RSS <= 32 MB" ;;
esac
