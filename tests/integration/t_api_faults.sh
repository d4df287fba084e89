#!/usr/bin/env bash
# API sources against misbehaving servers (WireMock stubs in
# tests/integration/wiremock/mappings, overrides posted to its admin API):
# 429 + Retry-After, 500s, timeouts, truncated and invalid JSON, oversized
# bodies, page loops; and bad input: unknown stream, missing required setting,
# malformed manifests. Every failure: a clear message, the live tables unchanged.
. "$(dirname "$0")/lib.sh"

MANIFEST=$FERRY_SRC/tests/integration/manifests/faults.yaml
peer_start wiremock
WM=$(peer_url "$PEER_PORT")
HOSTPORT=127.0.0.1:$PEER_PORT

# wm METHOD PATH [JSON]: WireMock's admin API.
wm() { curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$WM/__admin$2" || fail "WireMock admin: $1 $2 failed"; }
# wm_count PATH: requests WireMock got for PATH since the last wm_clear.
wm_count() { wm POST /requests/count "{\"method\": \"GET\", \"urlPath\": \"$1\"}" | jq .count; }
wm_clear() {
	wm DELETE /requests >/dev/null
	wm POST /scenarios/reset >/dev/null
}
# wm_override PATH STATUS BODY: a stub that wins over the files' ones; echoes its id.
wm_override() {
	wm POST /mappings "$(jq -cn --arg p "$1" --argjson s "$2" --arg b "$3" \
		'{priority: 1, request: {method: "GET", urlPath: $p},
		  response: {status: $s, headers: {"Content-Type": "application/json"}, body: $b}}')" | jq -r .id
}
wm_unstub() { wm DELETE "/mappings/$1" >/dev/null; }
# ferry_to SECONDS ARGS...: ferry that is killed if it runs longer (a hang fails the test).
ferry_to() {
	local secs=$1
	shift
	FERRY_DATABASE_URL="$STORE" FERRY_ENCRYPTION_KEY="$TEST_KEY" timeout -k 5 "$secs" "$FERRY_BIN" "$@"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

PG=$(newdb wh)
run ferry dest add wh --url "$PG"
run ferry source add wm --type rest --set manifest="$MANIFEST" --set base_url="$WM"

note "baseline: items, 5 records"
run ferry sync wm wh items --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 5 "$(q wh 'SELECT count(*) FROM wm_items')"
ITEMS=$(pg_sum wh wm_items 'id, name, amount, _ferry_synced_at')
unchanged() { # unchanged WHAT: wm_items exactly as after the baseline, no staging left
	assert_eq "$ITEMS" "$(pg_sum wh wm_items 'id, name, amount, _ferry_synced_at')" "$1: wm_items changed"
	assert_eq 0 "$(pg_staging_count wh)" "$1: staging tables left behind"
}

# ---------------------------------------------------------------- retries
note "429 with Retry-After: 1, then 200: waits, then succeeds"
wm_clear
t0=$(now_ms)
run ferry_to 60 sync wm wh rate_limited --json
t1=$(now_ms)
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "2|after 429" "$(q wh 'SELECT count(*), min(name) FROM wm_rate_limited')" "the rows of the 200 arrived"
assert_eq 2 "$(wm_count /rate-limited)" "one 429, one 200"
[ $((t1 - t0)) -ge 900 ] || fail "Retry-After: 1 not honoured: the sync took $((t1 - t0)) ms"

note "500, 500, then 200: retried, succeeds"
wm_clear
run ferry_to 60 sync wm wh flaky --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "1|third time lucky" "$(q wh 'SELECT count(*), min(name) FROM wm_flaky')"
assert_eq 3 "$(wm_count /flaky)" "two 500s and the 200"

note "slower than timeout_ms: fails after max_attempts with \"timed out\""
run ferry source add wm_fast --type rest --set manifest="$MANIFEST" --set base_url="$WM" \
	--set timeout_ms=300 --set max_attempts=2
wm_clear
t0=$(now_ms)
expect_exit 1 ferry_to 60 sync wm_fast wh slow
t1=$(now_ms)
assert_error_msg
assert_contains "$ERR" "timed out"
assert_eq 2 "$(wm_count /slow)" "max_attempts=2: two requests"
[ $((t1 - t0)) -lt 10000 ] || fail "timeout_ms=300 x 2 attempts took $((t1 - t0)) ms"
assert_eq f "$(pg_has_table wh public wm_fast_slow)" "nothing created for the failed stream"

# ---------------------------------------------------------------- broken bodies
note "truncated JSON: a clear error, the live table unchanged"
id=$(wm_override /items 200 '{"data": [{"id": 1, "name": "one", "amount": 10.5}, {"id": 2, "na')
expect_exit 1 ferry_to 60 sync wm wh items --full
wm_unstub "$id"
assert_error_msg
assert_contains "$ERR" "items" "the message names the stream"
assert_match "${ERR,,}" 'json|parse|truncat|unexpected end' "the message says the body is not valid JSON"
unchanged "truncated JSON"

note "invalid JSON: a clear error, the live table unchanged"
id=$(wm_override /items 200 '<html><body>Service temporarily unavailable</body></html>')
expect_exit 1 ferry_to 60 sync wm wh items --full
wm_unstub "$id"
assert_error_msg
assert_contains "$ERR" "items"
assert_match "${ERR,,}" 'json|parse|invalid' "the message says the body is not JSON"
unchanged "invalid JSON"

note "records not where the manifest says: a clear error, the live table unchanged"
id=$(wm_override /items 200 '{"items": [{"id": 1}]}')
expect_exit 1 ferry_to 60 sync wm wh items --full
wm_unstub "$id"
assert_error_msg
assert_contains "$ERR" "data" "the message names the record path that is missing"
unchanged "missing record array"

# ---------------------------------------------------------------- page loops
note "a next link pointing at the same page: fails about the loop, does not hang"
wm_clear
expect_exit 1 ferry_to 30 sync wm wh loop_next --full
assert_error_msg
assert_match "${ERR,,}" 'loop|repeat|same (page|url|link|next)|again' "the message says the pages loop"
[ "$(wm_count /loop-next)" -le 5 ] || fail "the loop was noticed only after $(wm_count /loop-next) requests"
assert_eq f "$(pg_has_table wh public wm_loop_next)"

note "has_more true with the same cursor: fails about the loop, does not hang"
wm_clear
expect_exit 1 ferry_to 30 sync wm wh loop_cursor --full
assert_error_msg
assert_match "${ERR,,}" 'loop|repeat|same (cursor|page)|again' "the message says the cursor does not move"
[ "$(wm_count /loop-cursor)" -le 5 ] || fail "the loop was noticed only after $(wm_count /loop-cursor) requests"
unchanged "page loops"

# ---------------------------------------------------------------- size cap
note "a body larger than max_response_bytes: a clear error, the live table unchanged"
# 1KB: the same size syntax as the manifest's max_response_bytes (integer, or KB/MB/GB).
run ferry source add wm_small --type rest --set manifest="$MANIFEST" --set base_url="$WM" \
	--set max_response_bytes=1KB
run ferry sync wm_small wh items --full --json
assert_eq 5 "$(q wh 'SELECT count(*) FROM wm_small_items')" "a 5-record body fits in 1 KB"
SMALL=$(pg_sum wh wm_small_items 'id, name, _ferry_synced_at')
BIG=$(jq -cn '{data: [range(1; 200) | {id: ., name: ("item number " + tostring)}], links: {next: null}}')
[ "${#BIG}" -gt 4096 ] || fail "test setup: the big body is only ${#BIG} bytes"
id=$(wm_override /items 200 "$BIG")
expect_exit 1 ferry_to 60 sync wm_small wh items --full
wm_unstub "$id"
assert_error_msg
assert_match "${ERR,,}" 'max_response_bytes|too (big|large)|larger than|exceeds' "the message says the body is too large"
assert_eq "$SMALL" "$(pg_sum wh wm_small_items 'id, name, _ferry_synced_at')" "wm_small_items unchanged"
unchanged "oversized body"

# ---------------------------------------------------------------- streams in parallel
# Each lane answers after 0.7 s. With concurrency 2 the second stream's request
# reaches the server while the first one is still waiting for its answer; with
# concurrency 1 only after it. (WireMock's journal: when each request arrived.)
lane_gap_ms() {
	wm GET /requests | jq '[.requests[] | select(.request.url | startswith("/lane-"))
		| .request.loggedDate] | sort | .[1] - .[0]'
}
note "concurrency 2: two streams are read at once"
run ferry source add wm_par --type rest --set manifest="$MANIFEST" --set base_url="$WM" \
	--set concurrency=2
wm_clear
run ferry_to 60 sync wm_par wh lane_a lane_b --json
assert_eq "2|2" "$(q wh 'SELECT (SELECT count(*) FROM wm_par_lane_a), (SELECT count(*) FROM wm_par_lane_b)')"
gap=$(lane_gap_ms)
[ "$gap" -lt 600 ] || fail "concurrency 2: the second stream was asked for $gap ms after the first (expected at once)"
note "concurrency 1: one stream after the other"
run ferry source add wm_seq --type rest --set manifest="$MANIFEST" --set base_url="$WM" \
	--set concurrency=1
wm_clear
run ferry_to 60 sync wm_seq wh lane_a lane_b --json
assert_eq "2|2" "$(q wh 'SELECT (SELECT count(*) FROM wm_seq_lane_a), (SELECT count(*) FROM wm_seq_lane_b)')"
gap=$(lane_gap_ms)
[ "$gap" -ge 650 ] || fail "concurrency 1: the second stream was asked for only $gap ms after the first"

# ---------------------------------------------------------------- bad input
note "unknown stream: exit 2, the available streams listed"
expect_exit 2 ferry sync wm wh nosuch
assert_error_msg
assert_contains "$ERR" "nosuch"
for s in items rate_limited flaky slow loop_next loop_cursor; do
	assert_contains "$ERR" "$s" "the message lists the available streams"
done

note "missing required setting: exit 2 naming it"
cat >"$T_DIR/needs_token.yaml" <<'EOF'
kind: rest
type: needs_token
base_url: http://127.0.0.1:1
settings:
  api_token: {required: true, secret: true, help: "the API token"}
auth: {type: bearer, token: "{api_token}"}
streams:
  - name: items
    path: /items
    records: data
    primary_key: id
EOF
expect_exit 2 ferry source add nt --type rest --set manifest="$T_DIR/needs_token.yaml" --set base_url="$WM"
assert_error_msg
assert_contains "$ERR" "api_token"
expect_exit 2 ferry source add st --type stripe --set base_url="$WM/v1"
assert_error_msg
assert_contains "$ERR" "api_key" "the built-in stripe connector names its required setting"

note "malformed manifests: exit 2 with file:line"
cat >"$T_DIR/broken.yaml" <<'EOF'
kind: rest
type: broken
base_url: http://127.0.0.1:1
streams:
  - name: things
    path: /things
    pagination:
      type: cursr
EOF
expect_exit 2 ferry source add broken --type rest --set manifest="$T_DIR/broken.yaml" --set base_url="$WM"
assert_error_msg
assert_contains "$ERR" "broken.yaml:8" "the message names file and line"
assert_contains "$ERR" "cursr" "the message quotes the bad value"
cat >"$T_DIR/syntax.yaml" <<'EOF'
kind: rest
type: syntax
streams:
  - name: things
    path: /things
    params: {limit: 100
EOF
expect_exit 2 ferry source add syntax --type rest --set manifest="$T_DIR/syntax.yaml" --set base_url="$WM"
assert_error_msg
assert_match "$ERR" 'syntax\.yaml:[0-9]+' "a YAML syntax error names file and line"
expect_exit 2 ferry source add nofile --type rest --set manifest="$T_DIR/missing.yaml" --set base_url="$WM"
assert_error_msg
assert_contains "$ERR" "missing.yaml" "a missing manifest file is named"
SOURCES=$(ferry source list --json)
for s in nt st broken syntax nofile; do
	[ "$(jf "$SOURCES" "[.. | objects | select(.name? == \"$s\")] | length")" = 0 ] ||
		fail "refused source \"$s\" was stored anyway: $SOURCES"
done

pass
