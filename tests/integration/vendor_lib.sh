# vendor_lib.sh - sourced (after lib.sh) by t_api_close.sh, t_api_smartlead.sh
# and t_api_lemlist.sh: the built-in connectors against the fixture servers of
# tests/fixtures/ (close_server.js, smartlead_server.js, lemlist_server.js),
# each synced into a PostgreSQL database and a SQLite file.
#
#   vendor_setup FIXTURE.js URL-PATH [ARGS...]
#                         start the fixture; sets FX (http://127.0.0.1:PORT),
#                         FX_PORT, API (FX + URL-PATH); creates the destinations
#                         "pg" (database <test>_pg) and "lite" ($LITE)
#   fx_get PATH           GET a fixture URL (the API or /__admin/...), print the body
#   fx_post PATH [JSON]   POST to a test control, print the answer
#   fx_count PATH         requests the fixture counted for PATH so far
#   dq DEST SQL           run SQL in "pg" (psql -At) or "lite" (sqlite3)
#   rel DEST TABLE [NS]   the table's name in DEST: NS.TABLE (PostgreSQL schema)
#                         or NS__TABLE (SQLite prefix)
#   nrows DEST TABLE [NS] its row count
#   has_table DEST TABLE [NS]   t or f
#   user_tables DEST      every table in DEST, one per line ("" if none)
#   coltype DEST TABLE COL      PostgreSQL's type name of a column; in SQLite
#                         the declared type mapped back to it (TIMESTAMPTZ ->
#                         timestamp with time zone, "JSONB TEXT" -> jsonb, ...)
#   pkey DEST TABLE       primary key columns, comma-separated
#   cursor_of DEST STREAM [NS]  the cursor stored in _ferry_state ("" if none)
#   state_rows DEST [NS]  how many rows _ferry_state holds (0 when it does not exist)
#   state_dump DEST [NS]  its "stream:cursor" lines
#   utc DEST COL          SQL for COL (a timestamp) as YYYY-MM-DDTHH:MM:SS in UTC
#   sorted                LC_ALL=C sort of stdin
#   expect_stream JSON STREAM "READ INSERTED UPDATED UNCHANGED DELETED" [MSG]
#                         one stream's counts in a `sync --json` report; a "-"
#                         in the expected list skips that count
#   jget DEST COL PATH    SQL for the text at PATH (a.b) in the JSON column COL
#   lines CMD...          CMD's output lines joined by spaces
#   report_deleted TEXT   "stream=N ..." from the DELETED column of a human report
# and checks every vendor test makes: wrong_key, retried, dry_run_empty,
# dry_run_untouched (see each).

vendor_setup() {
	local js=$1 path=$2
	shift 2
	peer_start "$FERRY_SRC/tests/fixtures/$js" "$@"
	FX_PORT=$PEER_PORT
	FX=$(peer_url "$FX_PORT")
	API=$FX$path
	PG_URL=$(newdb pg)
	run ferry dest add pg --url "$PG_URL"
	LITE=$T_DIR/warehouse.db
	run ferry dest add lite --url "sqlite://$LITE"
}

fx_get() {
	curl -sf --max-time 10 "$FX$1" || fail "fixture: GET $1 failed"
}

fx_post() {
	local body='{}'
	[ $# -lt 2 ] || body=$2
	curl -sf --max-time 10 -X POST -H 'Content-Type: application/json' -d "$body" "$FX$1" ||
		fail "fixture: POST $1 failed"
}

fx_count() {
	jf "$(fx_get /__admin/stats)" ".requests[\"$1\"] // 0"
}

dq() {
	case $1 in
	pg) q pg "$2" ;;
	lite) sq "$LITE" "$2" ;;
	*) fail "dq: unknown destination $1" ;;
	esac
}

rel() {
	if [ -z "${3:-}" ]; then
		echo "$2"
	elif [ "$1" = pg ]; then
		echo "$3.$2"
	else
		echo "${3}__$2"
	fi
}

nrows() { dq "$1" "SELECT count(*) FROM $(rel "$1" "$2" "${3:-}")"; }

has_table() {
	local n
	if [ "$1" = pg ]; then
		n=$(q pg "SELECT count(*) FROM pg_tables WHERE schemaname = '${3:-public}' AND tablename = '$2'")
	else
		n=$(sq "$LITE" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '$(rel lite "$2" "${3:-}")'")
	fi
	[ "$n" -gt 0 ] && echo t || echo f
}

user_tables() {
	if [ "$1" = pg ]; then
		q pg "SELECT schemaname || '.' || tablename FROM pg_tables
		      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
	elif [ -f "$LITE" ]; then
		sq "$LITE" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
	fi
}

coltype() {
	if [ "$1" = pg ]; then
		pg_coltype pg "$2" "$3"
		return
	fi
	local t
	t=$(sq "$LITE" "SELECT type FROM pragma_table_info('$2') WHERE name = '$3'")
	case $t in
	TIMESTAMPTZ) echo "timestamp with time zone" ;;
	"JSONB TEXT") echo jsonb ;;
	*) printf '%s\n' "$t" | tr '[:upper:]' '[:lower:]' ;;
	esac
}

pkey() {
	if [ "$1" = pg ]; then
		pg_pkey pg "$2"
	else
		sq "$LITE" "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('$2') WHERE pk > 0 ORDER BY pk)"
	fi
}

cursor_of() {
	[ "$(has_table "$1" _ferry_state "${3:-}")" = t ] || return 0
	dq "$1" "SELECT cursor FROM $(rel "$1" _ferry_state "${3:-}") WHERE stream = '$2'"
}

state_rows() {
	if [ "$(has_table "$1" _ferry_state "${2:-}")" = t ]; then
		nrows "$1" _ferry_state "${2:-}"
	else
		echo 0
	fi
}

# state_dump DEST [NS]: "stream:cursor" lines of _ferry_state, sorted.
state_dump() {
	[ "$(has_table "$1" _ferry_state "${2:-}")" = t ] || return 0
	dq "$1" "SELECT stream || ':' || coalesce(cursor, '') FROM $(rel "$1" _ferry_state "${2:-}")" | sorted
}

utc() {
	if [ "$1" = pg ]; then
		echo "to_char($2 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
	else
		echo "substr($2, 1, 19)"
	fi
}

sorted() { LC_ALL=C sort; }

expect_stream() {
	local json=$1 stream=$2 want=$3 msg=${4:-} got w g i out=()
	got=$(jf "$json" ".streams[] | select(.name == \"$stream\") | \"\(.read) \(.inserted) \(.updated) \(.unchanged) \(.deleted)\"")
	[ -n "$got" ] || fail "stream $stream missing from the report: $json"
	read -r -a w <<<"$want"
	read -r -a g <<<"$got"
	for i in 0 1 2 3 4; do
		if [ "${w[$i]}" = - ]; then out+=(-); else out+=("${g[$i]}"); fi
	done
	assert_eq "$want" "${out[*]}" "${msg:-$stream}: read inserted updated unchanged deleted (report: $got)"
}

# jget DEST COL PATH: SQL for the text at PATH (keys joined by dots) in a JSON column.
jget() {
	if [ "$1" = pg ]; then
		echo "($2 #>> '{${3//./,}}')"
	else
		echo "json_extract($2, '\$.$3')"
	fi
}

# report_deleted TEXT: "stream=N ..." from the DELETED column of a human job
# report (the column after which DUPLICATES and COLLISIONS may follow).
report_deleted() {
	awk '$1 == "STREAM" { for (i = 1; i <= NF; i++) if ($i == "DELETED") col = i; next }
	     col && NF >= col { printf "%s%s=%s", sep, $1, $col; sep = " " }' <<<"$1"
}

# full_deleted DEST WANT: `ferry sync "$SRC" DEST --full` reports WANT ("stream=N
# ..."), the rows it deleted per stream: in --json for pg, in the human report's
# DELETED column for lite; `ferry job show` says the same.
full_deleted() {
	local d=$1 want=$2 got job
	if [ "$d" = pg ]; then
		run ferry sync "$SRC" pg --full --json --backup-retention 0
		got=$(jf "$OUT" '.streams | map("\(.name)=\(.deleted)") | join(" ")')
		job=$(jf "$OUT" .job_id)
	else
		run ferry sync "$SRC" lite --full --backup-retention 0
		got=$(report_deleted "$OUT")
		job=$(grep -oE '^job [0-9]+' <<<"$OUT" | cut -d' ' -f2)
	fi
	assert_eq "$want" "$got" "$d: deleted rows counted per stream"
	run ferry job show "$job"
	assert_eq "$got" "$(report_deleted "$OUT")" "$d: ferry job show $job: the same DELETED counts"
}

# lines CMD...: CMD's output lines joined with spaces.
lines() { "$@" | paste -sd ' ' -; }

# wrong_key NAME TYPE STREAM PATH TABLE: a source NAME of TYPE whose key the
# API rejects: syncing STREAM into either destination exits 1 with "API key
# rejected by 127.0.0.1:PORT" after exactly one request (to PATH: a 401 is not
# retried), never shows the key, and creates nothing (no TABLE).
wrong_key() {
	local name=$1 type=$2 stream=$3 path=$4 table=$5 bad d tb0 n0 t0
	bad=wrong_key_$RANDOM$RANDOM
	run ferry source add "$name" --type "$type" --set api_key="$bad" --set base_url="$API" \
		--set requests_per_second=1000
	for d in pg lite; do
		tb0=$(user_tables "$d")
		n0=$(fx_count "$path")
		t0=$(jf "$(fx_get /__admin/stats)" .total)
		expect_exit 1 ferry sync "$name" "$d" "$stream" --full
		assert_error_msg
		assert_contains "$ERR" "API key rejected by 127.0.0.1:$FX_PORT"
		assert_not_contains "$OUT$ERR" "$bad" "$d: the rejected key is not echoed"
		assert_eq "$((n0 + 1)) $((t0 + 1))" "$(fx_count "$path") $(jf "$(fx_get /__admin/stats)" .total)" \
			"$d: a 401 is not retried: exactly one request, to $path"
		assert_eq f "$(has_table "$d" "$table")" "$d: no table for the failed source"
		assert_eq "$tb0" "$(user_tables "$d")" "$d: nothing created or dropped"
	done
	run ferry jobs
	assert_not_contains "$OUT$ERR" "$bad" "the job list never shows the key"
}

# retried DEST STREAM PATH STATUS RETRY_AFTER TABLE ROWS: the fixture answers
# the next two requests under PATH with STATUS (Retry-After RETRY_AFTER
# seconds; "" for none), then normally: `sync --full STREAM` succeeds after
# exactly 3 requests there and TABLE has ROWS rows.
retried() {
	local d=$1 stream=$2 path=$3 status=$4 ra=$5 table=$6 rows=$7 n0 body
	n0=$(fx_count "$path")
	body="{\"status\": $status, \"count\": 2, \"path\": \"$path\"${ra:+, \"retry_after\": $ra}}"
	fx_post /__admin/fail "$body" >/dev/null
	run ferry sync "$SRC" "$d" "$stream" --full --json --backup-retention 0
	assert_eq succeeded "$(jf "$OUT" .status)" "$d: $stream after two $status answers"
	assert_eq $((n0 + 3)) "$(fx_count "$path")" "$d: $path: 2 answers $status, then the good one"
	assert_eq "$rows" "$(nrows "$d" "$table")" "$d: $table complete after the retries"
}

# dry_run_empty TABLE: --dry-run (incremental, then --full) of $SRC into an
# new SQLite file and an empty PostgreSQL database: the plan names TABLE and
# nothing is created, not even _ferry_state.
dry_run_empty() {
	local d mode
	run ferry dest add drypg --url "$(newdb dry)"
	run ferry dest add drylite --url "sqlite://$T_DIR/dry.db"
	for d in drylite drypg; do
		for mode in "" --full; do
			# shellcheck disable=SC2086
			run ferry sync "$SRC" "$d" --dry-run $mode
			assert_contains "$OUT" "$1 (would be created)" "$d: dry run $mode: the plan names the tables"
			assert_eq 0 "$(q dry "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" \
				"dry run $mode: no table created in the empty PostgreSQL database"
			if [ -f "$T_DIR/dry.db" ]; then
				assert_eq 0 "$(sq "$T_DIR/dry.db" "SELECT count(*) FROM sqlite_master")" \
					"dry run $mode: no table created in the SQLite file"
			fi
		done
	done
}

# dry_run_untouched TABLE: --dry-run (incremental, then --full) of $SRC into
# the synced destinations leaves tables, TABLE's rows and the cursors as they were.
dry_run_untouched() {
	local d mode tb0 s0 c0
	for d in pg lite; do
		tb0=$(user_tables "$d")
		s0=$(dq "$d" "SELECT * FROM $1" | sorted | md5sum)
		c0=$(state_dump "$d")
		for mode in "" --full; do
			# shellcheck disable=SC2086
			run ferry sync "$SRC" "$d" --dry-run $mode
			assert_contains "$OUT" "dry run" "$d: dry run $mode: says so"
			assert_eq "$tb0" "$(user_tables "$d")" "$d: dry run $mode: no table created or dropped"
			assert_eq "$s0" "$(dq "$d" "SELECT * FROM $1" | sorted | md5sum)" "$d: dry run $mode: rows untouched"
			assert_eq "$c0" "$(state_dump "$d")" \
				"$d: dry run $mode: cursors untouched"
		done
	done
}
