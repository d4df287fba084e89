#!/usr/bin/env bash
# The built-in stripe connector against stripe-stateful-mock on 127.0.0.1:
# table names from the source name, --full with starting_after/has_more paging,
# field types, incremental, a second source, a rejected key (one request, clear
# message, nothing written), the key never shown. Then every mode into both a
# PostgreSQL database and a SQLite file: --full of customers, products, plans
# and charges (rows equal to the API's), incremental with created[gte] from the
# stored cursor, --since/--until (the mock ignores created filters: ferry's own
# bounds make the range right), a customer deleted through the API counted by
# --full, --reset, --dry-run, --namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vendor_lib.sh"

peer_start stripe
ST=$PEER_PORT
BASE=$(peer_url "$ST" /v1)
N=150
SEED=$(node "$PEER_HOME/stripe_seed.js" "$BASE" "$N" 3 5)
SKEY=sk_test_ferry_$RANDOM$RANDOM

# The stripe mock's request log: count and URLs since the last stripe_mark.
stripe_mark() { curl -sf -X POST "$(peer_url "$ST" /__ferry/requests/reset)" >/dev/null; }
stripe_log() { curl -sf "$(peer_url "$ST" /__ferry/requests)"; }

PG=$(newdb wh)
run ferry dest add wh --url "$PG"

run ferry source add "Italy Stripe Payments" --type stripe --set api_key="$SKEY" --set base_url="$BASE"
run ferry source show "Italy Stripe Payments"
assert_not_contains "$OUT$ERR" "$SKEY" "the API key is a secret: never shown"

# ---------------------------------------------------------------- full
note "--full: customers (2 pages of 100), products, plans, charges"
stripe_mark
run ferry sync "Italy Stripe Payments" wh customers products plans charges --full --json
R=$OUT
assert_not_contains "$OUT$ERR" "$SKEY" "the API key never appears in a report"
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq t "$(pg_has_table wh public italy_stripe_payments_customers)" "table slug(\"Italy Stripe Payments\")_customers"
assert_eq "$N" "$(q wh 'SELECT count(*) FROM italy_stripe_payments_customers')" "exactly $N customers"
assert_eq "$N" "$(jf "$R" '.streams[] | select(.name == "customers") | .read')"
assert_eq "$(jf "$SEED" '.customers | sort | join(",")')" \
	"$(q wh 'SELECT string_agg(id, $$,$$ ORDER BY id COLLATE "C") FROM italy_stripe_payments_customers')" \
	"every seeded customer id arrived"
assert_eq "3 3 5" "$(q wh 'SELECT count(*) FROM italy_stripe_payments_products') $(q wh 'SELECT count(*) FROM italy_stripe_payments_plans') $(q wh 'SELECT count(*) FROM italy_stripe_payments_charges')" \
	"products, plans, charges"
LOG=$(stripe_log)
assert_eq 2 "$(jf "$LOG" '[.urls[] | select(startswith("GET /v1/customers"))] | length')" \
	"customers: 150 at limit 100 -> 2 requests (has_more false ends it)"
assert_match "$(jf "$LOG" '[.urls[] | select(startswith("GET /v1/customers"))][1]')" 'starting_after=cus_' \
	"the second page starts after the last id of the first"

note "values and column types"
assert_eq "customer7@example.com|customer 7|7|f" \
	"$(q wh "SELECT email, description, metadata->>'seq', livemode FROM italy_stripe_payments_customers WHERE metadata->>'seq' = '7'")" \
	"customer 7: text, jsonb metadata, boolean"
assert_eq 0 "$(q wh "SELECT count(*) FROM italy_stripe_payments_customers WHERE created < now() - interval '1 hour' OR created > now() + interval '1 minute'")" \
	"created (unix seconds) -> timestamptz of today"
for col in created:"timestamp with time zone" metadata:jsonb balance:bigint livemode:boolean email:text id:text; do
	assert_eq "${col#*:}" "$(pg_coltype wh italy_stripe_payments_customers "${col%%:*}")" "column ${col%%:*}"
done
assert_eq "" "$(pg_coltype wh italy_stripe_payments_customers object)" "field \"object\" dropped"
assert_eq id "$(pg_pkey wh italy_stripe_payments_customers)" "primary key id"
assert_eq "1001|eur" "$(q wh "SELECT amount, currency FROM italy_stripe_payments_charges WHERE description = 'charge 1'")"

# ---------------------------------------------------------------- incremental
note "incremental: new customers arrive, created[gte] sent from the cursor"
sleep 1 # a second of their own: the --since/--until range below needs three
node "$PEER_HOME/stripe_seed.js" "$BASE" 20 >/dev/null
stripe_mark
run ferry sync "Italy Stripe Payments" wh customers --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
read -r c_read c_ins c_upd c_unch c_del <<<"$(stream_counts "$R" customers)"
assert_eq "20 0" "$c_ins $c_upd" "20 new customers inserted, none updated"
assert_eq $((N + 20)) "$(q wh 'SELECT count(*) FROM italy_stripe_payments_customers')"
assert_match "$(jf "$(stripe_log)" '.urls[0]')" 'created(\[|%5[bB])gte(\]|%5[dD])=[0-9]{10}' \
	"the request asks from the stored cursor: created[gte]=<unix seconds>"

# ---------------------------------------------------------------- second source
note "a second source \"CH-Stripe-2024\" gets its own tables"
run ferry source add "CH-Stripe-2024" --type stripe --set api_key="$SKEY" --set base_url="$BASE"
run ferry sync "CH-Stripe-2024" wh customers --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq $((N + 20)) "$(q wh 'SELECT count(*) FROM ch_stripe_2024_customers')" "ch_stripe_2024_customers"

# ---------------------------------------------------------------- wrong key
note "a rejected key: exit 1, one request, a clear message, nothing written"
BAD=sk_live_wrong_$RANDOM$RANDOM
run ferry source add "Bad Stripe" --type stripe --set api_key="$BAD" --set base_url="$BASE"
S0=$(pg_sum wh italy_stripe_payments_customers 'id, _ferry_synced_at')
stripe_mark
expect_exit 1 ferry sync "Bad Stripe" wh customers --full
assert_error_msg
assert_contains "$ERR" "API key rejected by 127.0.0.1:$ST"
assert_not_contains "$OUT$ERR" "$BAD" "the rejected key is not echoed"
assert_eq 1 "$(jf "$(stripe_log)" '.requests')" "a 401 is not retried: exactly one request"
assert_eq f "$(pg_has_table wh public bad_stripe_customers)" "no table for the failed source"
assert_eq 0 "$(pg_staging_count wh)" "no staging table left"
assert_eq "$S0" "$(pg_sum wh italy_stripe_payments_customers 'id, _ferry_synced_at')" "other tables untouched"

# ================================================================ PostgreSQL and SQLite
# The same source into a PostgreSQL database ("pg") and a SQLite file ("lite");
# vendor_lib.sh's dq/rel/nrows/coltype/cursor_of query either. The mock has no
# /v1/invoices, so the streams are always named.
PG_URL=$(newdb pg)
run ferry dest add pg --url "$PG_URL"
LITE=$T_DIR/x.db
run ferry dest add lite --url "sqlite://$LITE"
SRC="Italy Stripe Payments"
T=italy_stripe_payments
STREAMS=(customers products plans charges)

# stripe_list STREAM: every object the mock lists (starting_after pages of 100),
# one "id created" line each: the API's own view of its data.
stripe_list() {
	local after="" page
	while :; do
		page=$(curl -sf --max-time 10 -H "Authorization: Bearer $SKEY" \
			"$BASE/$1?limit=100${after:+&starting_after=$after}") || fail "mock: GET /v1/$1 failed"
		jf "$page" '.data[] | "\(.id) \(.created)"'
		[ "$(jf "$page" .has_more)" = true ] || break
		after=$(jf "$page" '.data[-1].id')
	done
}
# iso SECONDS: the unix time as ferry stores a cursor (2026-11-23T21:16:27Z).
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# The API's records per stream as "id:YYYY-MM-DDTHH:MM:SS" lines (SNAP), their
# count (CNT) and newest created (NEWEST, unix seconds); snapshot refreshes them
# after the mock's data changed, same_as_api compares every table with them.
declare -A SNAP CNT NEWEST
snapshot() {
	local s l
	for s in "${STREAMS[@]}"; do
		l=$(stripe_list "$s")
		SNAP[$s]=$(awk '{ print $1 ":" strftime("%Y-%m-%dT%H:%M:%S", $2, 1) }' <<<"$l" | sorted)
		CNT[$s]=$(grep -c . <<<"$l" || true)
		NEWEST[$s]=$(awk '$2 > m { m = $2 } END { print m }' <<<"$l")
	done
}
same_as_api() {
	local s got
	for s in "${STREAMS[@]}"; do
		got=$(dq "$1" "SELECT id || ':' || $(utc "$1" created) FROM $(rel "$1" "${T}_$s" "${2:-}")" | sorted)
		[ "${SNAP[$s]}" = "$got" ] || fail "$1: $(rel "$1" "${T}_$s" "${2:-}") differs from the API's records ($(grep -c . <<<"${SNAP[$s]}") listed, $(grep -c . <<<"$got") in the table; diff: $(diff <(echo "${SNAP[$s]}") <(echo "$got") | head -n 6 | tr '\n' ' '))"
	done
}
# customers_in SECONDS [UNTIL]: the API's customers with SECONDS <= created (< UNTIL).
customers_in() {
	stripe_list customers | awk -v lo="$1" -v hi="${2:-}" '$2 >= lo && (hi == "" || $2 < hi) { print $1 }' | sorted
}
mock_urls() { jf "$(stripe_log)" '.urls[]'; }

snapshot
assert_eq "$((N + 20)) 3 3 5" "${CNT[customers]} ${CNT[products]} ${CNT[plans]} ${CNT[charges]}" \
	"the mock lists what was seeded"

# ---------------------------------------------------------------- full
for d in pg lite; do
	note "$d: --full of ${STREAMS[*]}"
	stripe_mark
	run ferry sync "$SRC" "$d" "${STREAMS[@]}" --full --json --backup-retention 0
	R=$OUT
	assert_not_contains "$OUT$ERR" "$SKEY" "the API key never appears in a report"
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	for s in "${STREAMS[@]}"; do
		n=${CNT[$s]}
		expect_stream "$R" "$s" "$n $n 0 0 0" "$d: $s"
		assert_eq "${T}_$s" "$(jf "$R" ".streams[] | select(.name == \"$s\") | .table")"
		assert_eq "$n" "$(nrows "$d" "${T}_$s")" "$d: ${T}_$s has exactly $n rows"
		assert_eq id "$(pkey "$d" "${T}_$s")" "$d: ${T}_$s primary key"
		assert_eq "$(iso "${NEWEST[$s]}")" "$(cursor_of "$d" "$s")" "$d: $s cursor = the newest created"
	done
	same_as_api "$d"
	assert_eq 4 "$(state_rows "$d")" "$d: one _ferry_state row per stream"
	assert_eq 2 "$(mock_urls | grep -c '^GET /v1/customers')" "$d: customers in 2 pages of 100"

	note "$d: values and column types"
	assert_eq "customer7@example.com|customer 7|7|f|0" \
		"$(dq "$d" "SELECT email || '|' || description || '|' || $(jget "$d" metadata seq) || '|' ||
		            CASE WHEN livemode THEN 't' ELSE 'f' END || '|' || balance
		            FROM ${T}_customers WHERE id = '$(jf "$SEED" '.customers[6]')'")" \
		"$d: customer 7: text, jsonb metadata, boolean, bigint"
	assert_eq "1001|eur|t" "$(dq "$d" "SELECT amount || '|' || currency || '|' || CASE WHEN paid THEN 't' ELSE 'f' END
	                                  FROM ${T}_charges WHERE description = 'charge 1'")" "$d: charge 1"
	assert_eq "100 200 300" "$(lines dq "$d" "SELECT amount FROM ${T}_plans ORDER BY amount")" "$d: plan amounts"
	assert_eq "product 1 product 2 product 3" "$(lines dq "$d" "SELECT name FROM ${T}_products ORDER BY name")"
	for ct in customers.created:"timestamp with time zone" customers.metadata:jsonb customers.balance:bigint \
		customers.livemode:boolean customers.email:text customers.id:text charges.amount:bigint \
		charges.created:"timestamp with time zone" charges.paid:boolean products.updated:"timestamp with time zone" \
		plans.amount:bigint plans.interval:text; do
		tc=${ct%%:*}
		assert_eq "${ct#*:}" "$(coltype "$d" "${T}_${tc%%.*}" "${tc#*.}")" "$d: column ${T}_${tc%%.*}.${tc#*.}"
	done
	assert_eq "" "$(coltype "$d" ${T}_customers object)" "$d: field \"object\" dropped"
done

# ---------------------------------------------------------------- incremental
note "incremental: 20 more customers, created[gte] from the stored cursor"
sleep 1 # the new customers are created in a later second than the cursor
NEW=$(node "$PEER_HOME/stripe_seed.js" "$BASE" 20)
C0=${NEWEST[customers]}
AGAIN=$(customers_in "$C0" | grep -c .)
snapshot
assert_eq $((N + 40)) "${CNT[customers]}"
for d in pg lite; do
	assert_eq "$(iso "$C0")" "$(cursor_of "$d" customers)"
	stripe_mark
	run ferry sync "$SRC" "$d" customers --json
	R=$OUT
	assert_eq "succeeded incremental" "$(jf "$R" '"\(.status) \(.mode)"')"
	# The mock ignores created[gte] and lists all of them: ferry keeps the
	# records at or after the cursor, the 20 new ones and those of its second.
	expect_stream "$R" customers "$AGAIN 20 0 $((AGAIN - 20)) 0" "$d: from the stored cursor"
	assert_eq $((N + 40)) "$(nrows "$d" ${T}_customers)"
	same_as_api "$d"
	assert_eq "$(jf "$NEW" '.customers[]' | sorted)" \
		"$(dq "$d" "SELECT id FROM ${T}_customers WHERE created > '$(iso "$C0")'" | sorted)" \
		"$d: the 20 new customers arrived, after the old cursor"
	assert_eq "$(iso "${NEWEST[customers]}")" "$(cursor_of "$d" customers)" "$d: the cursor moved to the newest created"
	U=$(mock_urls | grep '^GET /v1/customers')
	assert_match "$(head -n 1 <<<"$U")" "created%5Bgte%5D=$C0(&|\$)" \
		"$d: the request asks from the stored cursor: created[gte]=$C0"
	assert_eq 0 "$(grep -vc "created%5Bgte%5D=$C0" <<<"$U" || true)" "$d: every page carries created[gte]"
done

# ---------------------------------------------------------------- backfill
note "--since/--until on customers: only the range, the stored cursor stays"
# The customers were created in at least three distinct seconds (the first 150,
# then 20 and 20 more, each after a sleep):
# the range is [the second oldest second, the newest second).
SECS=$(stripe_list customers | awk '{ print $2 }' | sort -un)
[ "$(grep -c . <<<"$SECS")" -ge 3 ] || fail "the customers' created spans fewer than 3 seconds: ${SECS//$'\n'/ }"
LO=$(sed -n 2p <<<"$SECS") HI=$(tail -n 1 <<<"$SECS")
SINCE=$(iso "$LO") UNTIL=$(iso "$HI")
RANGE=$(customers_in "$LO" "$HI")
NR=$(grep -c . <<<"$RANGE")
OUTSIDE=$((CNT[customers] - NR))
if [ "$NR" -le 2 ] || [ "$OUTSIDE" -eq 0 ]; then
	fail "range [$SINCE, $UNTIL): $NR customers inside, $OUTSIDE outside"
fi
for d in pg lite; do
	C0=$(state_dump "$d")
	N0=$(nrows "$d" ${T}_customers)
	dq "$d" "UPDATE ${T}_customers SET email = 'stale'" >/dev/null
	dq "$d" "DELETE FROM ${T}_customers WHERE id IN ('$(head -n 2 <<<"$RANGE" | paste -sd, | sed "s/,/','/g")')" >/dev/null
	stripe_mark
	run ferry sync "$SRC" "$d" customers --since "$SINCE" --until "$UNTIL" --json
	R=$OUT
	assert_eq succeeded "$(jf "$R" .status)"
	# The mock ignores created[gte]/created[lt] and lists every customer: the
	# bounds are applied by ferry to what comes back.
	expect_stream "$R" customers "$NR 2 $((NR - 2)) 0 0" "$d: the backfill read the $NR customers of [$SINCE, $UNTIL)"
	assert_eq "$RANGE" "$(dq "$d" "SELECT id FROM ${T}_customers WHERE email <> 'stale'" | sorted)" \
		"$d: exactly the customers of the range were rewritten"
	assert_eq "$OUTSIDE" "$(dq "$d" "SELECT count(*) FROM ${T}_customers WHERE email = 'stale'")" \
		"$d: the customers outside the range were not written"
	assert_eq "$N0" "$(nrows "$d" ${T}_customers)" "$d: the 2 deleted rows are back"
	assert_eq "$C0" "$(state_dump "$d")" "$d: a backfill does not move the cursors"
	U=$(mock_urls | grep '^GET /v1/customers')
	assert_match "$(head -n 1 <<<"$U")" "created%5Bgte%5D=$LO(&|\$)" "$d: --since sent as created[gte]=$LO"
	assert_match "$(head -n 1 <<<"$U")" "created%5Blt%5D=$HI(&|\$)" "$d: --until sent as created[lt]=$HI"
done

# ---------------------------------------------------------------- deletions
note "a customer deleted through the API: --full counts it and drops the row"
GONE=$(sed -n 5p <<<"$RANGE")
DEL=$(curl -sf --max-time 10 -X DELETE -H "Authorization: Bearer $SKEY" "$BASE/customers/$GONE") ||
	fail "mock: DELETE /v1/customers/$GONE failed"
assert_eq "$GONE true" "$(jf "$DEL" '"\(.id) \(.deleted)"')" "the mock deleted the customer"
snapshot
assert_eq $((N + 39)) "${CNT[customers]}"
for d in pg lite; do
	assert_eq 1 "$(dq "$d" "SELECT count(*) FROM ${T}_customers WHERE id = '$GONE'")"
	run ferry sync "$SRC" "$d" "${STREAMS[@]}" --full --json --backup-retention 0
	R=$OUT
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	assert_eq "customers=1 products=0 plans=0 charges=0" "$(jf "$R" '.streams | map("\(.name)=\(.deleted)") | join(" ")')" \
		"$d: DELETED per stream"
	run ferry job show "$(jf "$R" .job_id)"
	assert_eq "customers=1 products=0 plans=0 charges=0" "$(report_deleted "$OUT")" "$d: ferry job show: the same DELETED counts"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_customers WHERE id = '$GONE'")" "$d: the deleted customer's row is gone"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_customers WHERE email = 'stale'")" "$d: --full rewrote every row"
	assert_eq $((N + 39)) "$(nrows "$d" ${T}_customers)"
	same_as_api "$d"
done

# ---------------------------------------------------------------- reset
note "--reset: drops the tables and the state, then syncs full"
for d in pg lite; do
	dq "$d" "INSERT INTO ${T}_customers (id, email, _ferry_synced_at) VALUES ('cus_only_here', 'x@example.com', '2024-01-01T00:00:00Z')" >/dev/null
	dq "$d" "UPDATE _ferry_state SET cursor = '2031-01-01T00:00:00Z' WHERE stream = 'customers'" >/dev/null
	run ferry sync "$SRC" "$d" "${STREAMS[@]}" --reset --json --backup-retention 0
	R=$OUT
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')" "$d: --reset runs a full sync"
	expect_stream "$R" customers "$((N + 39)) $((N + 39)) 0 0 0" "$d: everything read and inserted again"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_customers WHERE id = 'cus_only_here'")" "$d: the stray row went with the table"
	assert_eq "$(iso "${NEWEST[customers]}")" "$(cursor_of "$d" customers)" "$d: the state was dropped and written again"
	same_as_api "$d"
done
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- dry run
note "--dry-run over synced tables: rows and cursors untouched, sampled columns shown"
sleep 1
node "$PEER_HOME/stripe_seed.js" "$BASE" 3 >/dev/null # something a real run would write
# dry_plan: the plan lists the sampled columns of customers with their types.
dry_plan() {
	assert_contains "$OUT" "dry run" "$1: says so"
	assert_match "$OUT" "columns from a sample of [0-9]+ records" "$1: the columns come from sampled records"
	local c
	for c in 'id +text +\[primary key\]' 'created +timestamp with time zone +\[cursor\]' 'metadata +jsonb' \
		'balance +bigint' 'livemode +boolean' 'email +text'; do
		assert_match "$OUT" "^ +$c" "$1: the plan shows column $c"
	done
}
for d in pg lite; do
	tb0=$(user_tables "$d")
	s0=$(dq "$d" "SELECT * FROM ${T}_customers" | sorted | md5sum)
	c0=$(state_dump "$d")
	for mode in "" --full; do
		# shellcheck disable=SC2086
		run ferry sync "$SRC" "$d" "${STREAMS[@]}" --dry-run $mode
		dry_plan "$d: dry run $mode"
		assert_contains "$OUT" "${T}_customers (exists)" "$d: dry run $mode: the table exists"
		assert_eq "$tb0" "$(user_tables "$d")" "$d: dry run $mode: no table created or dropped"
		assert_eq "$s0" "$(dq "$d" "SELECT * FROM ${T}_customers" | sorted | md5sum)" "$d: dry run $mode: rows untouched"
		assert_eq "$c0" "$(state_dump "$d")" "$d: dry run $mode: cursors untouched"
	done
done
note "--dry-run into empty destinations: nothing created"
run ferry dest add drypg --url "$(newdb dry)"
run ferry dest add drylite --url "sqlite://$T_DIR/dry.db"
for d in drypg drylite; do
	for mode in "" --full; do
		# shellcheck disable=SC2086
		run ferry sync "$SRC" "$d" "${STREAMS[@]}" --dry-run $mode
		dry_plan "$d: dry run $mode"
		for s in "${STREAMS[@]}"; do
			assert_contains "$OUT" "${T}_$s (would be created)" "$d: dry run $mode: the plan names ${T}_$s"
		done
		assert_eq 0 "$(q dry "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" \
			"dry run $mode: no table created in the empty PostgreSQL database"
		if [ -f "$T_DIR/dry.db" ]; then
			assert_eq 0 "$(sq "$T_DIR/dry.db" "SELECT count(*) FROM sqlite_master")" \
				"dry run $mode: no table created in the SQLite file"
		fi
	done
done
run ferry sync "$SRC" drylite customers --dry-run --json
assert_eq "false created:timestamp with time zone email:text id:text metadata:jsonb" \
	"$(jf "$OUT" '.streams[0] | "\(.exists) " + ([.columns[] | select(.name | IN("id", "created", "metadata", "email")) | "\(.name):\(.type)"] | sort | join(" "))')" \
	"--dry-run --json: the sampled columns"
snapshot

# ---------------------------------------------------------------- namespace
note "--namespace eu_ns: PostgreSQL schema eu_ns, SQLite prefix eu_ns__"
for d in pg lite; do
	P0=$(dq "$d" "SELECT * FROM ${T}_customers" | sorted | md5sum)
	run ferry sync "$SRC" "$d" "${STREAMS[@]}" --namespace eu_ns --json
	R=$OUT
	assert_eq "succeeded" "$(jf "$R" .status)"
	for s in "${STREAMS[@]}"; do
		expect_stream "$R" "$s" "${CNT[$s]} ${CNT[$s]} 0 0 0" "$d: a new namespace has its own state: all of $s read and inserted"
		assert_eq t "$(has_table "$d" "${T}_$s" eu_ns)" "$d: $(rel "$d" "${T}_$s" eu_ns)"
		assert_eq "$(iso "${NEWEST[$s]}")" "$(cursor_of "$d" "$s" eu_ns)" "$d: the namespace's own _ferry_state"
	done
	same_as_api "$d" eu_ns
	assert_eq "$P0" "$(dq "$d" "SELECT * FROM ${T}_customers" | sorted | md5sum)" "$d: the tables outside the namespace untouched"
	AGAIN=$(customers_in "${NEWEST[customers]}" | grep -c .)
	run ferry sync "$SRC" "$d" customers --namespace eu_ns --json
	expect_stream "$OUT" customers "$AGAIN 0 0 $AGAIN 0" "$d: incremental in the namespace starts from its own cursor"
done
assert_eq f "$(has_table pg eu_ns__${T}_customers)" "PostgreSQL uses a schema, not a prefix"

# ---------------------------------------------------------------- wrong key, SQLite
note "lite: a rejected key: exit 1, one request, nothing written"
T0=$(user_tables lite)
stripe_mark
expect_exit 1 ferry sync "Bad Stripe" lite customers --full
assert_error_msg
assert_contains "$ERR" "API key rejected by 127.0.0.1:$ST"
assert_not_contains "$OUT$ERR" "$BAD" "the rejected key is not echoed"
assert_eq 1 "$(jf "$(stripe_log)" '.requests')" "a 401 is not retried: exactly one request"
assert_eq "$T0" "$(user_tables lite)" "nothing created or dropped in the SQLite file"

pass
