#!/usr/bin/env bash
# GraphQL API sources (kind: graphql manifests) on 127.0.0.1:
#   - json-graphql-server: page/perPage variables from page 0, the total from
#     _allUsersMeta { count }, fixed variables (a filter);
#   - the Relay fixture (tests/fixtures/relay_server.js): first/after cursors from
#     pageInfo { endCursor hasNextPage }, records at edges[].node, bearer token,
#     incremental through the $updatedSince variable, GraphQL errors.
. "$(dirname "$0")/lib.sh"

MF=$FERRY_SRC/tests/integration/manifests
PG=$(newdb pg)
run ferry dest add pg --url "$PG"

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

pass
