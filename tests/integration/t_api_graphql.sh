#!/usr/bin/env bash
# GraphQL API sources (kind: graphql manifests) on 127.0.0.1:
#   - json-graphql-server: page/perPage variables from page 0, the total from
#     _allUsersMeta { count }, fixed variables (a filter);
#   - the Relay fixture (tests/fixtures/relay_server.js): first/after cursors from
#     pageInfo { endCursor hasNextPage }, records at edges[].node, bearer token,
#     incremental through the $updatedSince variable, GraphQL errors.
# Then every sync mode into both a PostgreSQL database and a SQLite file
# (sqlite://$T_DIR/x.db), rows checked against what the API serves:
#   - json-graphql-server into SQLite: --full (rows, types) and incremental;
#   - a second Relay fixture as source "Relay Hub" (tables relay_hub_*): --full
#     (exact rows, column types, the cursors in _ferry_state), incremental
#     after users were added and changed (only they are written; updatedSince
#     = the stored cursor), --since/--until (filtered by ferry, and by the
#     server through an until_param variable), deletions counted by --full,
#     --reset, --dry-run (the sampled columns), --namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vendor_lib.sh"

MF=$FERRY_SRC/tests/integration/manifests
PG=$(newdb pg)
run ferry dest add pg --url "$PG"
LITE=$T_DIR/x.db
run ferry dest add lite --url "sqlite://$LITE"

# requests PORT: the variables of every GraphQL request the peer got (JSON array).
requests() { curl -sf "$(peer_url "$1" /__ferry/requests)" | jq -c '.variables'; }

# ---------------------------------------------------------------- json-graphql-server
node "$PEER_HOME/make_data.js" users 120 >"$T_DIR/users.json"
peer_start graphql "$T_DIR/users.json"
GQ=$PEER_PORT
run ferry source add gq --type graphql --set manifest="$MF/jsongraphql.yaml" --set base_url="$(peer_url "$GQ")"

note "json-graphql-server: page/perPage, total from _allUsersMeta, fixed variables"
run ferry sync gq pg --full --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq 120 "$(jf "$R" '.streams[] | select(.name == "users") | .read')" "users: 120 read"
assert_eq 40 "$(jf "$R" '.streams[] | select(.name == "red_users") | .read')" "red_users: the 40 red ones"
assert_eq 120 "$(q pg 'SELECT count(DISTINCT id) FROM gq_users')" "gq_users: 120 distinct users"
assert_eq "40|red" "$(q pg 'SELECT count(*), string_agg(DISTINCT team, $$,$$) FROM gq_red_users')" \
	"gq_red_users: the filter variable was sent"
assert_eq "80|4740|user 7|user7@example.com" \
	"$(q pg "SELECT (SELECT count(*) FROM gq_users WHERE active), (SELECT sum(age) FROM gq_users),
	                name, email FROM gq_users WHERE id::text = '7'")" "values: booleans, integers, text"
assert_eq "boolean bigint timestamp with time zone" \
	"$(pg_coltype pg gq_users active) $(pg_coltype pg gq_users age) $(pg_coltype pg gq_users updated_at)" \
	"column types: boolean, bigint, declared rfc3339 -> timestamptz"
assert_eq "2024-01-01 02:00:00" "$(q pg "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                                         FROM gq_users WHERE id::text = '120'")"
V=$(requests "$GQ")
assert_eq "[0,1,2,3]" "$(jf "$V" '[.[] | select(.perPage == 30) | .page] | sort | tostring')" \
	"users: pages 0..3 of 30; the total (120) ends it without asking for an empty page 4"
assert_eq "[0,1]" "$(jf "$V" '[.[] | select(.perPage == 25) | .page] | sort | tostring')" \
	"red_users: pages 0 and 1 (25 + 15, the short page ends it)"
assert_eq true "$(jf "$V" '[.[] | select(.perPage == 25) | .filter.team == "red"] | all')" \
	"red_users: every request carries the fixed variables"

# ---------------------------------------------------------------- Relay fixture
TOKEN=relay-secret-$RANDOM$RANDOM
peer_start relay --token "$TOKEN" --users 120
RL=$PEER_PORT
run ferry source add rl --type graphql --set manifest="$MF/relay.yaml" --set base_url="$(peer_url "$RL")" \
	--set token="$TOKEN"
run ferry source show rl
assert_not_contains "$OUT$ERR" "$TOKEN" "the token is a secret: never shown"

note "Relay: first/after + pageInfo, records at edges[].node"
run ferry sync rl pg --full --json
R=$OUT
assert_not_contains "$OUT$ERR" "$TOKEN" "the token never appears in a report"
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq 120 "$(jf "$R" '.streams[] | select(.name == "users") | .read')"
assert_eq 40 "$(jf "$R" '.streams[] | select(.name == "blue_users") | .read')"
assert_eq 120 "$(q pg 'SELECT count(*) FROM rl_users')"
assert_eq "40|blue" "$(q pg 'SELECT count(*), string_agg(DISTINCT team, $$,$$) FROM rl_blue_users')"
assert_eq "_ferry_synced_at,active,email,id,name,profile,score,team,updated_at" \
	"$(q pg "SELECT string_agg(column_name, ',' ORDER BY column_name COLLATE \"C\") FROM information_schema.columns
	         WHERE table_schema = 'public' AND table_name = 'rl_users'")" \
	"one column per field of the node (no edge cursor, no node wrapper)"
assert_eq "user 7|10.5|city 2|[\"en\", \"it\"]|2024-02-01 07:00:00" \
	"$(q pg "SELECT name, score, profile->>'city', profile->'langs', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
	         FROM rl_users WHERE id = 'u7'")" "values: double, nested object as jsonb, timestamptz"
assert_eq "jsonb double precision 90" \
	"$(pg_coltype pg rl_users profile) $(pg_coltype pg rl_users score) $(q pg 'SELECT count(*) FROM rl_users WHERE active')"
V=$(requests "$RL")
assert_eq 7 "$(jf "$V" 'length')" "users: 5 pages of 25 (the last with 20), blue_users: 2 pages"
assert_eq 5 "$(jf "$V" '[.[] | select(.team == null)] | length')" "users: 5 requests"
assert_eq true "$(jf "$V" '[.[] | select(.team == null) | .first == 25] | all')" "first = 25 on every page"
assert_eq 1 "$(jf "$V" '[.[] | select(.team == null) | select(.after == null)] | length')" \
	"only the first page goes without an after cursor"
assert_eq 2 "$(jf "$V" '[.[] | select(.team == "blue")] | length')" "blue_users: fixed variable team sent"

note "Relay: incremental through \$updatedSince"
run ferry sync rl pg users --json
read -r u_read u_ins u_upd u_unch u_del <<<"$(stream_counts "$OUT" users)"
assert_eq "0 0" "$u_ins $u_upd" "nothing new"
[ "$u_read" -le 1 ] || fail "incremental read from the cursor: expected at most the user at the cursor, read $u_read"
V=$(requests "$RL")
assert_match "$(jf "$V" '.[-1].updatedSince')" '^2024-02-06T00:00:00(\.0+)?(Z|\+00:00)$' \
	"updatedSince = the newest updated_at (u120, 2024-02-06T00:00:00Z)"

curl -sf -X POST "$(peer_url "$RL" /__ferry/users)" -d '{"id": "u5", "name": "changed", "email": "c@example.com",
	"score": 1, "active": true, "team": "green", "updated_at": "2024-07-01T00:00:00Z", "profile": {"city": "x"}}' >/dev/null
curl -sf -X POST "$(peer_url "$RL" /__ferry/users)" -d '{"id": "u121", "name": "new", "email": "n@example.com",
	"score": 2, "active": false, "team": "red", "updated_at": "2024-07-02T00:00:00Z", "profile": null}' >/dev/null
run ferry sync rl pg users --json
read -r u_read u_ins u_upd u_unch u_del <<<"$(stream_counts "$OUT" users)"
assert_eq "1 1" "$u_ins $u_upd" "u121 inserted, u5 updated"
[ "$u_read" -le 3 ] || fail "incremental: expected the 2 changed users (+1 at the cursor), read $u_read"
assert_eq "changed|2024-07-01 00:00:00" "$(q pg "SELECT name, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                                              FROM rl_users WHERE id = 'u5'")"
assert_eq 121 "$(q pg 'SELECT count(*) FROM rl_users')"

note "Relay: a wrong token is refused at once, nothing written"
S0=$(pg_sum pg rl_users 'id, name, _ferry_synced_at')
run ferry source add rl_bad --type graphql --set manifest="$MF/relay.yaml" --set base_url="$(peer_url "$RL")" \
	--set token=wrong-token
N0=$(curl -sf "$(peer_url "$RL" /__ferry/requests)" | jq .requests)
expect_exit 1 ferry sync rl_bad pg users --full
assert_error_msg
assert_contains "$ERR" "rejected" "401 is reported as rejected credentials"
assert_contains "$ERR" "127.0.0.1:$RL" "the message names the host"
N1=$(curl -sf "$(peer_url "$RL" /__ferry/requests)" | jq .requests)
assert_eq 1 $((N1 - N0)) "a 401 is not retried"
assert_eq "$S0" "$(pg_sum pg rl_users 'id, name, _ferry_synced_at')" "nothing written"

note "GraphQL errors in a 200 answer fail the stream with the server's message"
cat >"$T_DIR/relay_bad.yaml" <<'EOF'
kind: graphql
type: relay_bad
base_url: http://127.0.0.1:3000
settings:
  token: {required: true, secret: true}
auth: {type: bearer, token: "{token}"}
streams:
  - name: users
    path: /graphql
    records: data.users.edges
    record_field: node
    primary_key: id
    query: "query($first: Int, $after: String) { users(first: $first, after: $after) { edges { node { id nickname } } pageInfo { endCursor hasNextPage } } }"
    pagination: {type: cursor, limit_param: first, limit: 10, cursor_param: after,
                 cursor_path: data.users.pageInfo.endCursor, has_more: data.users.pageInfo.hasNextPage}
EOF
run ferry source add rl_err --type graphql --set manifest="$T_DIR/relay_bad.yaml" --set base_url="$(peer_url "$RL")" \
	--set token="$TOKEN"
expect_exit 1 ferry sync rl_err pg --full
assert_error_msg
assert_contains "$ERR" 'nickname' "the GraphQL error message is shown"
assert_not_contains "$ERR" "$TOKEN"
assert_eq f "$(pg_has_table pg public rl_err_users)" "no table for a stream that failed"

# ================================================================ every mode, PostgreSQL and SQLite
note "json-graphql-server into SQLite: --full (rows, types), then incremental"
GQ_ROWS=$(jq -r '.users[] | "\(.id)|\(.name)|\(.email)|\(.age)|\(if .active then 1 else 0 end)|\(.team)|\(.updated_at[0:19])"' \
	"$T_DIR/users.json" | sorted)
GQ_SQL="id || '|' || name || '|' || email || '|' || age || '|' || CASE WHEN active THEN 1 ELSE 0 END || '|' || team || '|' || $(utc lite updated_at)"
run ferry sync gq lite --full --json
expect_stream "$OUT" users "120 120 0 0 0" "lite: users"
expect_stream "$OUT" red_users "40 40 0 0 0" "lite: red_users"
assert_eq "$GQ_ROWS" "$(sq "$LITE" "SELECT $GQ_SQL FROM gq_users" | sorted)" "lite: gq_users holds exactly the served users"
assert_eq "$(grep -F '|red|' <<<"$GQ_ROWS")" "$(sq "$LITE" "SELECT $GQ_SQL FROM gq_red_users" | sorted)" \
	"lite: gq_red_users holds exactly the red ones"
assert_eq "text bigint boolean timestamp with time zone id" \
	"$(coltype lite gq_users name) $(coltype lite gq_users age) $(coltype lite gq_users active) $(coltype lite gq_users updated_at) $(pkey lite gq_users)" \
	"lite: column types and primary key"
run ferry sync gq lite --json
assert_eq "succeeded incremental" "$(jf "$OUT" '"\(.status) \(.mode)"')"
expect_stream "$OUT" users "120 0 0 120 0" "lite: no cursor: every user read again, none written"
expect_stream "$OUT" red_users "40 0 0 40 0" "lite: red_users read again, none written"

# ---------------------------------------------------------------- Relay Hub
# A Relay fixture of its own (60 users: u<i> updated at 2024-02-01 + i hours,
# team red/green/blue by i mod 3, score 1.5 i), synced as source "Relay Hub"
# (tables relay_hub_users, relay_hub_blue_users) into both destinations.
HTOKEN=relay-hub-$RANDOM$RANDOM
peer_start relay --token "$HTOKEN" --users 60
HB=$PEER_PORT
SRC="Relay Hub"
T=relay_hub
run ferry source add "$SRC" --type graphql --set manifest="$MF/relay.yaml" --set base_url="$(peer_url "$HB")" \
	--set token="$HTOKEN"
run ferry source show "$SRC" --json
HUB_ID=$(jf "$OUT" .id)

# hub_users JQ: every user the Hub fixture serves (asked for in one request),
# through JQ, one line each, sorted: the API's own view of its data.
hub_users() {
	local body
	body=$(curl -sf --max-time 10 -H "Authorization: Bearer $HTOKEN" -H 'Content-Type: application/json' \
		-d '{"query": "{ users(first: 100) { edges { node { id name email score active team updated_at profile } } pageInfo { hasNextPage } } }"}' \
		"$(peer_url "$HB" /graphql)") || fail "fixture: the users query failed"
	[ "$(jf "$body" .data.users.pageInfo.hasNextPage)" = false ] || fail "fixture: more than 100 users"
	jf "$body" ".data.users.edges[].node | $1" | sorted
}
# hub_put JSON: insert or replace a user; hub_delete ID: remove one.
hub_put() { curl -sf --max-time 10 -X POST "$(peer_url "$HB" /__ferry/users)" -d "$1" >/dev/null || fail "fixture: POST /__ferry/users failed"; }
hub_delete() {
	assert_eq '{"deleted":1}' "$(curl -sf --max-time 10 -X POST "$(peer_url "$HB" "/__ferry/delete?id=$1")")" "fixture: $1 deleted"
}
# hub_log: how many GraphQL requests the fixture logged; hub_vars N: the
# variables of those after the first N (a JSON array).
hub_log() { curl -sf "$(peer_url "$HB" /__ferry/requests)" | jq '.variables | length'; }
hub_vars() { curl -sf "$(peer_url "$HB" /__ferry/requests)" | jq -c ".variables[$1:]"; }
# hub_cursor DEST STREAM [NS]: the cursor "Relay Hub" stored for STREAM ("" if
# none). _ferry_state is keyed by source id: source rl has streams of the same names.
hub_cursor() {
	[ "$(has_table "$1" _ferry_state "${3:-}")" = t ] || return 0
	dq "$1" "SELECT cursor FROM $(rel "$1" _ferry_state "${3:-}") WHERE state_key = '$HUB_ID' AND stream = '$2'"
}
# columns DEST TABLE: the table's column names, sorted, comma-separated.
columns() {
	if [ "$1" = pg ]; then
		q pg "SELECT string_agg(column_name, ',' ORDER BY column_name COLLATE \"C\") FROM information_schema.columns
		      WHERE table_schema = 'public' AND table_name = '$2'"
	else
		sq "$LITE" "SELECT name FROM pragma_table_info('$2')" | sorted | paste -sd, -
	fi
}
# A user as one line, from the API (USER_ROW, jq) and from a table (user_sql DEST).
USER_ROW='"\(.id)|\(.name)|\(.email)|\(.score * 10 | floor)|\(if .active then 1 else 0 end)|\(.team)|\(.updated_at[0:19])|\(.profile.city // "")"'
BLUE_ROW='"\(.id)|\(.name)|\(.updated_at[0:19])"'
user_sql() {
	echo "id || '|' || name || '|' || email || '|' || CAST(score * 10 AS INTEGER) || '|' || CASE WHEN active THEN 1 ELSE 0 END
	      || '|' || team || '|' || $(utc "$1" updated_at) || '|' || coalesce($(jget "$1" profile city), '')"
}
# snapshot: the fixture's users now; same_as_api DEST [NS]: both tables hold
# exactly them.
snapshot() {
	SNAP_USERS=$(hub_users "$USER_ROW")
	SNAP_BLUE=$(hub_users "select(.team == \"blue\") | $BLUE_ROW")
	NEWEST=$(hub_users .updated_at | tail -n 1)
	NEWEST_BLUE=$(hub_users 'select(.team == "blue") | .updated_at' | tail -n 1)
}
same_as_api() {
	local got
	got=$(dq "$1" "SELECT $(user_sql "$1") FROM $(rel "$1" ${T}_users "${2:-}")" | sorted)
	[ "$SNAP_USERS" = "$got" ] || fail "$1: $(rel "$1" ${T}_users "${2:-}") differs from the fixture's users ($(wc -l <<<"$SNAP_USERS") served, $(wc -l <<<"$got") in the table; diff: $({ diff <(echo "$SNAP_USERS") <(echo "$got") || true; } | head -n 6 | tr '\n' ' '))"
	got=$(dq "$1" "SELECT id || '|' || name || '|' || $(utc "$1" updated_at) FROM $(rel "$1" ${T}_blue_users "${2:-}")" | sorted)
	[ "$SNAP_BLUE" = "$got" ] || fail "$1: $(rel "$1" ${T}_blue_users "${2:-}") differs from the fixture's blue users (diff: $({ diff <(echo "$SNAP_BLUE") <(echo "$got") || true; } | head -n 6 | tr '\n' ' '))"
}
# synced DEST: "id@_ferry_synced_at" of every relay_hub_users row, sorted.
synced() { dq "$1" "SELECT id || '@' || _ferry_synced_at FROM ${T}_users" | sorted; }

snapshot
assert_eq "60 20 2024-02-03T12:00:00.000Z 2024-02-03T11:00:00.000Z" \
	"$(wc -l <<<"$SNAP_USERS") $(wc -l <<<"$SNAP_BLUE") $NEWEST $NEWEST_BLUE" "the fixture serves 60 users, 20 blue"

# ---------------------------------------------------------------- full
for d in pg lite; do
	note "$d: Relay Hub --full: exact rows, column types, cursors"
	n0=$(hub_log)
	run ferry sync "$SRC" "$d" --full --json --backup-retention 0
	R=$OUT
	assert_not_contains "$OUT$ERR" "$HTOKEN" "the token never appears in a report"
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" users "60 60 0 0 0" "$d: users"
	expect_stream "$R" blue_users "20 20 0 0 0" "$d: blue_users"
	assert_eq "${T}_users ${T}_blue_users" "$(jf "$R" '.streams | map(.table) | join(" ")')" "tables slug(\"$SRC\")_<stream>"
	same_as_api "$d"
	assert_eq "id id" "$(pkey "$d" ${T}_users) $(pkey "$d" ${T}_blue_users)" "$d: primary keys"
	assert_eq "_ferry_synced_at,active,email,id,name,profile,score,team,updated_at" "$(columns "$d" ${T}_users)" \
		"$d: ${T}_users: a column per node field"
	assert_eq "_ferry_synced_at,id,name,profile,team,updated_at" "$(columns "$d" ${T}_blue_users)" \
		"$d: ${T}_blue_users: the fields its query selects, and profile, declared in the defaults"
	assert_eq 0 "$(dq "$d" "SELECT count(profile) FROM ${T}_blue_users")" "$d: ${T}_blue_users.profile: never selected, NULL"
	for ct in id:text name:text email:text score:"double precision" active:boolean team:text \
		updated_at:"timestamp with time zone" profile:jsonb; do
		assert_eq "${ct#*:}" "$(coltype "$d" ${T}_users "${ct%%:*}")" "$d: column ${T}_users.${ct%%:*}"
	done
	assert_eq "timestamp with time zone" "$(coltype "$d" ${T}_blue_users updated_at)"
	if [ "$d" = pg ]; then
		assert_eq "timestamp with time zone" "$(coltype pg ${T}_users _ferry_synced_at)"
		J="jsonb_typeof(profile) = 'object' AND jsonb_typeof(profile -> 'langs') = 'array'"
	else
		J="json_type(profile) = 'object' AND json_type(profile, '\$.langs') = 'array'"
	fi
	assert_eq "60|45|10.5|2745" "$(dq "$d" "SELECT count(*) FROM ${T}_users WHERE $J")|$(dq "$d" "SELECT count(*) FROM ${T}_users WHERE active")|$(dq "$d" "SELECT score FROM ${T}_users WHERE id = 'u7'")|$(dq "$d" "SELECT CAST(sum(score) AS INTEGER) FROM ${T}_users")" \
		"$d: profile objects with a langs array, 45 active (i mod 4 <> 0), scores 1.5 i"
	assert_eq "2024-02-03T12:00:00.000Z 2024-02-03T11:00:00.000Z" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" \
		"$d: _ferry_state holds the newest updated_at of each stream, as the API wrote it"
	V=$(hub_vars "$n0")
	assert_eq "[25,25,25] [false,true,true] 1 true" \
		"$(jf "$V" '[.[] | select(.team == null)] | "\(map(.first) | tostring) \(map(.after != null) | tostring)"') $(jf "$V" '[.[] | select(.team == "blue")] | length') $(jf "$V" 'all(.updatedSince == null)')" \
		"$d: users: 3 pages of first=25, after from the second on; blue_users: one page; a full sync sends no updatedSince"
done

# ---------------------------------------------------------------- incremental
note "incremental after a user changed and one was added: only they are written, from the stored cursors"
hub_put '{"id": "u5", "name": "user 5 renamed", "email": "five@example.org", "score": 99.5, "active": false, "team": "blue",
	"updated_at": "2024-07-01T00:00:00Z", "profile": {"city": "Rome", "langs": ["it"]}}'
hub_put '{"id": "u61", "name": "user 61", "email": "user61@example.com", "score": 2.5, "active": true, "team": "blue",
	"updated_at": "2024-07-02T00:00:00Z", "profile": null}'
snapshot
for d in pg lite; do
	C0="$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)"
	S0=$(synced "$d")
	n0=$(hub_log)
	run ferry sync "$SRC" "$d" --json
	R=$OUT
	assert_eq "succeeded incremental" "$(jf "$R" '"\(.status) \(.mode)"')"
	# updatedSince is inclusive: the user at the cursor comes again, unchanged.
	expect_stream "$R" users "3 1 1 1 0" "$d: users: u60 (at the cursor), u5 changed, u61 new"
	expect_stream "$R" blue_users "3 1 1 1 0" "$d: blue_users: u59 (at the cursor), u5 changed, u61 new"
	V=$(hub_vars "$n0")
	assert_eq "$C0" "$(jf "$V" '[.[] | select(.team == null)] | if length == 1 then .[0].updatedSince else "\(length) requests" end') $(jf "$V" '[.[] | select(.team == "blue")] | if length == 1 then .[0].updatedSince else "\(length) requests" end')" \
		"$d: one request per stream, its updatedSince the cursor stored in _ferry_state"
	assert_eq "u5 u61" "$(LC_ALL=C comm -13 <(echo "$S0") <(synced "$d") | cut -d@ -f1 | paste -sd' ' -)" \
		"$d: only u5 and u61 were written; the others keep their _ferry_synced_at"
	same_as_api "$d"
	assert_eq "u61" "$(dq "$d" "SELECT id FROM ${T}_users WHERE profile IS NULL")" "$d: a null profile is NULL"
	assert_eq "2024-07-02T00:00:00.000Z 2024-07-02T00:00:00.000Z" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" \
		"$d: the cursors moved to u61's updated_at"
done

# ---------------------------------------------------------------- backfill
note "--since/--until: only the users updated in [10:00, 20:00) are written; the cursors stay"
SINCE=2024-02-01T10:00:00Z UNTIL=2024-02-01T20:00:00Z
RANGE_ROWS=$(hub_users "select(.updated_at >= \"2024-02-01T10:00:00.000Z\" and .updated_at < \"2024-02-01T20:00:00.000Z\") | $USER_ROW")
assert_eq "u10 u11 u12 u13 u14 u15 u16 u17 u18 u19" "$(cut -d'|' -f1 <<<"$RANGE_ROWS" | paste -sd' ' -)" \
	"the fixture has u10..u19 in the range"
for d in pg lite; do
	C0="$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)"
	dq "$d" "UPDATE ${T}_users SET name = 'stale'" >/dev/null
	dq "$d" "DELETE FROM ${T}_users WHERE id IN ('u11', 'u12')" >/dev/null
	n0=$(hub_log)
	run ferry sync "$SRC" "$d" users --since "$SINCE" --until "$UNTIL" --json
	R=$OUT
	assert_eq succeeded "$(jf "$R" .status)"
	expect_stream "$R" users "10 2 8 0 0" "$d: the 10 users of the range: 2 deleted rows back, 8 stale ones rewritten"
	assert_eq "$RANGE_ROWS" "$(dq "$d" "SELECT $(user_sql "$d") FROM ${T}_users WHERE name <> 'stale'" | sorted)" \
		"$d: exactly the users of the range were written, with the API's values"
	assert_eq 61 "$(nrows "$d" ${T}_users)" "$d: nothing else added or removed"
	assert_eq "$C0" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" "$d: a backfill does not move the cursors"
	V=$(hub_vars "$n0")
	assert_eq "true" "$(jf "$V" "length > 0 and all(.updatedSince == \"$SINCE\" and .updatedBefore == null and .team == null)")" \
		"$d: every request has updatedSince = --since (relay.yaml has no until_param: ferry drops what is at or after --until)"
done

note "--since/--until through both variables: updatedSince and updatedBefore (until_param)"
cat >"$T_DIR/relay_window.yaml" <<'YAML'
kind: graphql
type: relay_window
base_url: http://127.0.0.1:3000
settings:
  token: {required: true, secret: true}
auth: {type: bearer, token: "{token}"}
streams:
  - name: users
    path: /graphql
    records: data.users.edges
    record_field: node
    primary_key: id
    cursor: updated_at
    cursor_order: asc
    fields: {updated_at: rfc3339}
    query: "query($first: Int, $after: String, $from: String, $to: String) { users(first: $first, after: $after, updatedSince: $from, updatedBefore: $to) { edges { node { id name updated_at } } pageInfo { endCursor hasNextPage } } }"
    pagination: {type: cursor, limit_param: first, limit: 4, cursor_param: after,
                 cursor_path: data.users.pageInfo.endCursor, has_more: data.users.pageInfo.hasNextPage}
    incremental: {param: from, until_param: to, format: rfc3339}
YAML
run ferry source add "Relay Window" --type graphql --set manifest="$T_DIR/relay_window.yaml" \
	--set base_url="$(peer_url "$HB")" --set token="$HTOKEN"
run ferry source show "Relay Window" --json
WIN_ID=$(jf "$OUT" .id)
for d in pg lite; do
	n0=$(hub_log)
	run ferry sync "Relay Window" "$d" --since "$SINCE" --until "$UNTIL" --json
	expect_stream "$OUT" users "10 10 0 0 0" "$d: relay_window_users: the 10 users of the range"
	assert_eq "$(cut -d'|' -f1,2 <<<"$RANGE_ROWS")" "$(dq "$d" "SELECT id || '|' || name FROM relay_window_users" | sorted)" \
		"$d: relay_window_users holds exactly the range"
	V=$(hub_vars "$n0")
	assert_eq "3 true true" "$(jf "$V" 'length') $(jf "$V" 'all(.from | test("^2024-02-01T10:00:00(\\.0+)?(Z|\\+00:00)$"))') $(jf "$V" 'all(.to | test("^2024-02-01T20:00:00(\\.0+)?(Z|\\+00:00)$"))')" \
		"$d: the server filtered: 3 pages of first=4 (4+4+2), each with from = --since and to = --until"
	assert_eq "" "$(dq "$d" "SELECT cursor FROM _ferry_state WHERE state_key = '$WIN_ID' AND cursor IS NOT NULL")" \
		"$d: a backfill stores no cursor"
	run ferry sync "Relay Window" "$d" --json
	expect_stream "$OUT" users "61 51 0 10 0" "$d: the next incremental (no cursor yet) reads everything"
done

# ---------------------------------------------------------------- deletions
note "--full after users were deleted at the source: DELETED counted, the rows gone"
hub_delete u3 # red
hub_delete u8 # blue
snapshot
for d in pg lite; do
	full_deleted "$d" "users=2 blue_users=1"
	assert_eq "0 0" "$(dq "$d" "SELECT count(*) FROM ${T}_users WHERE id IN ('u3', 'u8')") $(dq "$d" "SELECT count(*) FROM ${T}_blue_users WHERE id = 'u8'")" \
		"$d: the deleted users are gone"
	same_as_api "$d"
	assert_eq "$NEWEST $NEWEST_BLUE" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" "$d: cursors after --full"
done

# ---------------------------------------------------------------- reset
note "--reset: drops this source's tables and state, then syncs full; other sources untouched"
for d in pg lite; do
	dq "$d" "INSERT INTO ${T}_users (id, name, _ferry_synced_at) VALUES ('u_stray', 'not at the source', '2024-01-01T00:00:00Z')" >/dev/null
	dq "$d" "UPDATE _ferry_state SET cursor = '2031-01-01T00:00:00.000Z' WHERE state_key = '$HUB_ID'" >/dev/null
	O0=$(dq "$d" "SELECT state_key || stream || coalesce(cursor, '') FROM _ferry_state WHERE state_key <> '$HUB_ID'" | sorted)
	W0=$(dq "$d" "SELECT * FROM relay_window_users" | sorted | md5sum)
	[ "$d" = lite ] || R0=$(pg_sum pg rl_users 'id, name, _ferry_synced_at')
	run ferry sync "$SRC" "$d" --reset --json --backup-retention 0
	R=$OUT
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')" "$d: --reset runs a full sync"
	expect_stream "$R" users "59 59 0 0 0" "$d: users: all inserted into a new table"
	expect_stream "$R" blue_users "20 20 0 0 0" "$d: blue_users: all inserted into a new table"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_users WHERE id = 'u_stray'")" "$d: the stray row went with the table"
	same_as_api "$d"
	assert_eq "$NEWEST $NEWEST_BLUE" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" \
		"$d: the state was dropped and written again"
	assert_eq "$O0" "$(dq "$d" "SELECT state_key || stream || coalesce(cursor, '') FROM _ferry_state WHERE state_key <> '$HUB_ID'" | sorted)" \
		"$d: other sources' state untouched"
	assert_eq "$W0" "$(dq "$d" "SELECT * FROM relay_window_users" | sorted | md5sum)" "$d: other sources' tables untouched"
	[ "$d" = lite ] || assert_eq "$R0" "$(pg_sum pg rl_users 'id, name, _ferry_synced_at')" "pg: rl_users untouched"
done
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- dry run
note "--dry-run: the plan with the sampled columns; nothing written"
hub_put '{"id": "u62", "name": "user 62", "email": "user62@example.com", "score": 3, "active": true, "team": "blue",
	"updated_at": "2024-07-03T00:00:00Z", "profile": {"city": "Oslo", "langs": []}}'
hub_put '{"id": "u6", "name": "user 6 renamed", "email": "user6@example.com", "score": 9, "active": true, "team": "red",
	"updated_at": "2024-07-03T01:00:00Z", "profile": {"city": "Oslo", "langs": ["no"]}}'
snapshot
for d in pg lite; do
	for mode in "" --full; do
		# shellcheck disable=SC2086
		run ferry sync "$SRC" "$d" --dry-run $mode
		assert_contains "$OUT" "dry run" "$d: dry run $mode: says so"
		assert_contains "$OUT" "users -> table ${T}_users (exists)" "$d: dry run $mode: the plan names the table"
		assert_contains "$OUT" "blue_users -> table ${T}_blue_users (exists)"
		for col in 'id +text +\[primary key\]' 'updated_at +timestamp with time zone +\[cursor\]' 'profile +jsonb' \
			'score +double precision' 'active +boolean' 'email +text' 'team +text'; do
			assert_match "$OUT" "^ +$col\$" "$d: dry run $mode: the sampled column $col is listed"
		done
	done
done
dry_run_untouched ${T}_users

# ---------------------------------------------------------------- namespace
note "--namespace gql_ns: PostgreSQL schema gql_ns, SQLite prefix gql_ns__"
NU=$(wc -l <<<"$SNAP_USERS") NB=$(wc -l <<<"$SNAP_BLUE")
for d in pg lite; do
	P0=$(dq "$d" "SELECT id || name FROM ${T}_users" | sorted | md5sum)
	C0="$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)"
	run ferry sync "$SRC" "$d" --namespace gql_ns --json
	R=$OUT
	assert_eq "succeeded gql_ns" "$(jf "$R" '"\(.status) \(.namespace)"')"
	expect_stream "$R" users "$NU $NU 0 0 0" "$d: a new namespace has its own state: everything read and inserted"
	expect_stream "$R" blue_users "$NB $NB 0 0 0" "$d: blue_users in the namespace"
	assert_eq "t t" "$(has_table "$d" ${T}_users gql_ns) $(has_table "$d" ${T}_blue_users gql_ns)" \
		"$d: $(rel "$d" ${T}_users gql_ns), $(rel "$d" ${T}_blue_users gql_ns)"
	same_as_api "$d" gql_ns
	assert_eq "$NEWEST $NEWEST_BLUE" "$(hub_cursor "$d" users gql_ns) $(hub_cursor "$d" blue_users gql_ns)" \
		"$d: the namespace's own _ferry_state"
	assert_eq "$P0" "$(dq "$d" "SELECT id || name FROM ${T}_users" | sorted | md5sum)" "$d: the tables outside the namespace untouched"
	assert_eq "$C0" "$(hub_cursor "$d" users) $(hub_cursor "$d" blue_users)" "$d: the cursors outside the namespace untouched"
	n0=$(hub_log)
	run ferry sync "$SRC" "$d" users --namespace gql_ns --json
	expect_stream "$OUT" users "1 0 0 1 0" "$d: incremental in the namespace starts from its own cursor"
	assert_eq "$NEWEST" "$(jf "$(hub_vars "$n0")" '.[0].updatedSince')" "$d: updatedSince = the namespace's cursor"
done
assert_eq f "$(has_table pg gql_ns__${T}_users)" "PostgreSQL uses a schema, not a prefix"

# ---------------------------------------------------------------- incremental, several pages
note "incremental over two pages and many batches: u6 and u62 changed since, 30 users added"
for i in $(seq 100 129); do
	hub_put "{\"id\": \"u$i\", \"name\": \"user $i\", \"email\": \"user$i@example.com\", \"score\": $i.5,
		\"active\": true, \"team\": \"green\", \"updated_at\": \"2024-08-01T00:$((i - 70)):00Z\", \"profile\": {\"city\": \"c$i\"}}"
done
snapshot
for d in pg lite; do
	C0=$(hub_cursor "$d" users)
	n0=$(hub_log)
	run ferry sync "$SRC" "$d" --batch-size 5 --json
	expect_stream "$OUT" users "33 31 1 1 0" "$d: u61 (at the cursor), u62 and 30 new inserted, u6 updated"
	expect_stream "$OUT" blue_users "2 1 0 1 0" "$d: blue_users: u61 (at the cursor), u62 new"
	V=$(jf "$(hub_vars "$n0")" '[.[] | select(.team == null)]')
	assert_eq "2 [false,true] true" "$(jf "$V" 'length') $(jf "$V" 'map(.after != null) | tostring') $(jf "$V" "all(.updatedSince == \"$C0\")")" \
		"$d: two pages of 25, both from updatedSince = the stored cursor, the second after the first's endCursor"
	same_as_api "$d"
	assert_eq "2024-08-01T00:59:00.000Z" "$(hub_cursor "$d" users)" "$d: the cursor is the newest updated_at"
done

note "--dry-run into empty destinations: nothing created"
dry_run_empty ${T}_users

pass
