#!/usr/bin/env bash
# ferry serve and ferry token: /health without a token; Bearer auth on /api/v1
# (missing, malformed, unknown and revoked tokens refused with 401); 404 for an
# unknown route and an unknown job; 405; 413 for a 2 MiB body (announced and
# chunked); 400 for malformed JSON and unknown fields and parameters; the job
# of a real SQLite -> SQLite sync in GET /api/v1/jobs and /jobs/{id}; the
# token never printed by the server; a clean exit 0 on SIGTERM and SIGINT.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "curl is needed"

. "$(dirname "$0")/serve_lib.sh"

# ---------------------------------------------------------------- bad command lines
note "bad --listen values are usage errors"
for bad in nonsense 127.0.0.1 127.0.0.1:99999 :8080 127.0.0.1:80x 999.1.1.1:8080 "[::1:8080"; do
	expect_exit 2 ferry serve --listen "$bad"
	assert_contains "$ERR" "--listen needs HOST:PORT"
done
expect_exit 2 ferry serve --threads 0
expect_exit 2 ferry serve extra

note "token: missing, bad and unknown names"
expect_exit 2 ferry token create
assert_contains "$ERR" "create needs a NAME"
expect_exit 2 ferry token create "two words"
expect_exit 2 ferry token revoke
expect_exit 2 ferry token frobnicate
run ferry token list
assert_contains "$OUT" "no tokens yet"

# ---------------------------------------------------------------- tokens
note "token create prints the token once; only its hash is stored"
run ferry token create ci
TOKEN=$OUT
assert_match "$TOKEN" '^fy_[A-Za-z0-9_-]{43}$'
assert_contains "$ERR" "cannot be shown again"
HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
assert_eq "$HASH" "$(sq "$STORE" "SELECT hash FROM tokens WHERE name = 'ci'")" "the stored hash is the token's SHA-256"
assert_eq 0 "$(sq "$STORE" "SELECT count(*) FROM tokens WHERE hash LIKE '%${TOKEN:3:20}%' OR name LIKE '%${TOKEN:3:20}%'")" \
	"the token itself is not stored"
expect_exit 2 ferry token create ci
assert_contains "$ERR" "already exists"
assert_eq 1 "$(sq "$STORE" "SELECT count(*) FROM tokens")" "a refused duplicate creates nothing"
run ferry token create old
OLD=$OUT
run ferry token list --json
assert_eq "ci old" "$(jf "$OUT" '[.[].name] | join(" ")')"
assert_not_contains "$OUT" "$HASH"
assert_not_contains "$OUT" "$TOKEN"
assert_eq null "$(jf "$OUT" '.[0].last_used_at')" "not used yet"

# ---------------------------------------------------------------- a real job
note "a SQLite -> SQLite sync to list"
SHOP=$T_DIR/shop.db
sq "$SHOP" "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
            INSERT INTO customers SELECT i, 'customer ' || i FROM n;"
run ferry source add shop --type sqlite --set path="$SHOP"
run ferry dest add lite --url "sqlite://$T_DIR/warehouse.db"
run ferry sync shop lite --full --json
JOB=$(jf "$OUT" '.job_id')
assert_eq succeeded "$(jf "$OUT" '.status')"

# ---------------------------------------------------------------- the server
note "ferry serve: /health without a token"
start_serve
assert_contains "$(cat "$T_DIR/serve.err")" "ferry serve: listening on http://127.0.0.1:$PORT"
http GET /health
assert_eq 200 "$HCODE"
assert_eq "ok ok 0" "$(jf "$HBODY" '"\(.status) \(.store) \(.queue_depth)"')"
[ -n "$(jf "$HBODY" '.version')" ] || fail "no version in /health: $HBODY"

note "a second server on the same port is refused"
expect_exit 1 ferry serve --listen "127.0.0.1:$PORT"
assert_contains "$ERR" "cannot listen on 127.0.0.1:$PORT"

AUTH=(-H "Authorization: Bearer $TOKEN")
note "401: no token, another scheme, not a token, an unknown token"
expect_http 401 unauthorized GET /api/v1/jobs
assert_contains "$HBODY" "ferry token create"
expect_http 401 unauthorized GET /api/v1/jobs -H "Authorization: Basic dXNlcjpwdw=="
expect_http 401 unauthorized GET /api/v1/jobs -H "Authorization: Bearer nonsense"
WRONG=fy_$(printf 'A%.0s' $(seq 1 43))
expect_http 401 unauthorized GET "/api/v1/jobs/$JOB" -H "Authorization: Bearer $WRONG"
assert_not_contains "$HBODY" "$WRONG"
# Auth comes before routing: an unauthenticated caller does not learn which routes exist.
expect_http 401 unauthorized GET /api/v1/no-such-route

note "GET /api/v1/jobs and /api/v1/jobs/{id} with the token"
http GET /api/v1/jobs "${AUTH[@]}"
assert_eq 200 "$HCODE" "GET /api/v1/jobs: $HBODY"
assert_eq "$JOB succeeded shop lite" "$(jf "$HBODY" '.jobs[0] | "\(.id) \(.status) \(.source) \(.destination)"')"
assert_eq 50 "$(jf "$HBODY" '.jobs[0].streams[] | select(.name == "customers") | .read')"
http GET "/api/v1/jobs?status=failed&limit=5" "${AUTH[@]}"
assert_eq "200 0" "$HCODE $(jf "$HBODY" '.jobs | length')" "no failed jobs"
http GET "/api/v1/jobs?status=succeeded&limit=1" "${AUTH[@]}"
assert_eq "200 1" "$HCODE $(jf "$HBODY" '.jobs | length')"
http GET "/api/v1/jobs/$JOB" "${AUTH[@]}"
assert_eq 200 "$HCODE"
assert_eq "$JOB full" "$(jf "$HBODY" '"\(.id) \(.mode)"')"
http GET "/api/v1/jobs/$JOB" -H "authorization: bearer $TOKEN"
assert_eq 200 "$HCODE" "header name and scheme are case-insensitive"
run ferry token list --json
[ "$(jf "$OUT" '.[] | select(.name == "ci") | .last_used_at')" != null ] || fail "last_used_at not set after use"

note "400: bad parameters"
expect_http 400 invalid_parameter GET "/api/v1/jobs?limit=0" "${AUTH[@]}"
assert_contains "$HBODY" "limit"
expect_http 400 invalid_parameter GET "/api/v1/jobs?limit=abc" "${AUTH[@]}"
expect_http 400 invalid_parameter GET "/api/v1/jobs?status=weird" "${AUTH[@]}"
expect_http 400 unknown_parameter GET "/api/v1/jobs?colour=red" "${AUTH[@]}"
assert_contains "$HBODY" "colour"

note "404: unknown route, unknown job"
expect_http 404 not_found GET /api/v1/no-such-route "${AUTH[@]}"
expect_http 404 not_found GET /nothing-here
expect_http 404 not_found GET /api/v1/jobs/999999 "${AUTH[@]}"
assert_contains "$HBODY" "999999"
expect_http 404 not_found GET /api/v1/jobs/abc "${AUTH[@]}"
expect_http 404 not_found POST /api/v1/jobs/999999/cancel "${AUTH[@]}"

note "405: wrong method"
expect_http 405 method_not_allowed DELETE "/api/v1/jobs/$JOB" "${AUTH[@]}"
expect_http 405 method_not_allowed POST /health
expect_http 405 method_not_allowed GET "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}"
assert_eq "POST" "$(curl -s -o /dev/null -D - -X GET "${AUTH[@]}" "$BASE/api/v1/jobs/$JOB/cancel" |
	tr -d '\r' | sed -n 's/^Allow: //Ip')" "405 names the allowed method"

note "400: malformed JSON and unknown fields, before anything else"
BEFORE=$(sq "$STORE" "SELECT group_concat(id || status, ',') FROM jobs")
expect_http 400 invalid_json POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"reason": '
assert_contains "$HBODY" "not valid JSON"
expect_http 400 invalid_json POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}" -d '[1, 2]'
expect_http 400 unknown_field POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}" -d '{"force": true}'
assert_contains "$HBODY" '\"force\"'
expect_http 400 invalid_json POST /api/v1/jobs/999999/cancel "${AUTH[@]}" -d '{oops'

note "409: cancelling a job that ended"
expect_http 409 conflict POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}"
assert_contains "$HBODY" "succeeded"
assert_eq "$BEFORE" "$(sq "$STORE" "SELECT group_concat(id || status, ',') FROM jobs")" "refused requests changed no job"

note "413: a 2 MiB body, announced and chunked"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$T_DIR/big.json"
expect_http 413 payload_too_large POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}" --data-binary @"$T_DIR/big.json"
assert_contains "$HBODY" "1048576"
expect_http 413 payload_too_large POST "/api/v1/jobs/$JOB/cancel" "${AUTH[@]}" \
	-H "Transfer-Encoding: chunked" --data-binary @"$T_DIR/big.json"
http GET /health
assert_eq 200 "$HCODE" "the server still answers after the big bodies"

note "a revoked token stops working at once; other tokens keep working"
http GET /api/v1/jobs -H "Authorization: Bearer $OLD"
assert_eq 200 "$HCODE"
run ferry token revoke old
assert_contains "$OUT" "revoked"
expect_http 401 unauthorized GET /api/v1/jobs -H "Authorization: Bearer $OLD"
http GET /api/v1/jobs "${AUTH[@]}"
assert_eq 200 "$HCODE"
expect_exit 2 ferry token revoke olf
assert_contains "$ERR" 'did you mean "old"'
run ferry token revoke old
assert_contains "$OUT" "already revoked"

note "SIGTERM: exit 0; the tokens never in the server's output"
kill -TERM "$SERVE_PID"
wait_pid "$SERVE_PID"
assert_eq 0 "$RC" "ferry serve exits 0 on SIGTERM ($(cat "$T_DIR/serve.err"))"
_check_sanitizers "$T_DIR/serve.err" "ferry serve"
for t in "$TOKEN" "$OLD" "$WRONG" "$HASH"; do
	assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$t"
done
assert_contains "$(cat "$T_DIR/serve.err")" "SIGTERM received"

note "SIGINT: exit 0 too"
start_serve
kill -INT "$SERVE_PID"
wait_pid "$SERVE_PID"
assert_eq 0 "$RC" "ferry serve exits 0 on SIGINT"
_check_sanitizers "$T_DIR/serve.err" "ferry serve"

pass
