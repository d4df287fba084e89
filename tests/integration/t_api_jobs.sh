#!/usr/bin/env bash
# Syncs and jobs over HTTP, against a real PostgreSQL destination:
# POST /api/v1/syncs (202; the same idempotency key gives the same job and a
# different body with it 409; every bad field 400 naming it and an unknown
# source or destination 404, nothing queued); the job run by `ferry run-due`;
# GET /api/v1/jobs/{id} (attempt, max_attempts, progress, summary, error);
# cancel of a queued job (200), a running one (202, then cancelled) and an
# ended one (409); GET /api/v1/jobs/{id}/events read with curl -N until
# "event: end" (and a job already ended: progress and end at once);
# GET /api/v1/jobs filters and pages (the next links followed to the end);
# GET /api/v1/connections/due and POST /api/v1/run-due; GET /metrics parsed
# (label escaping, counts that match the store, no secrets). Every refused
# request leaves the jobs table as it was; SIGTERM ends an open stream cleanly.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "curl is needed"

. "$(dirname "$0")/serve_lib.sh"

export FERRY_RETRY_BASE_S=1 FERRY_SSE_KEEPALIVE_S=1

SHOP=$T_DIR/shop.db
sq "$SHOP" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
            INSERT INTO users SELECT i, 'user ' || i FROM n;"
WH_URL=$(newdb wh)
run ferry source add shop --type sqlite --set path="$SHOP"
run ferry dest add warehouse --url "$WH_URL"
run ferry token create api
TOKEN=$OUT
AUTH=(-H "Authorization: Bearer $TOKEN")

# The API alone: jobs wait in the queue until `ferry run-due` runs them.
run ferry serve --help
SERVE_ARGS=()
if grep -q -- '--workers' <<<"$OUT"; then
	SERVE_ARGS=(--workers 0)
fi
start_serve "${SERVE_ARGS[@]}"

jobs_snapshot() {
	sq "$STORE" "SELECT count(*) || ':' || coalesce(group_concat(id || status || cancel_requested, ','), '') FROM jobs"
}
post_sync() { # post_sync JSON: POST /api/v1/syncs
	http POST /api/v1/syncs "${AUTH[@]}" -H 'Content-Type: application/json' -d "$1"
}
job_field() { # job_field ID JQ
	http GET "/api/v1/jobs/$1" "${AUTH[@]}"
	assert_eq 200 "$HCODE" "GET /api/v1/jobs/$1: $HBODY"
	jf "$HBODY" "$2"
}

# ---------------------------------------------------------------- POST /api/v1/syncs: refused
note "POST /api/v1/syncs: every bad field is a 400 naming it, and nothing is queued"
BEFORE=$(jobs_snapshot)
assert_eq "0:" "$BEFORE"
# "BODY|FIELD the message must name"
while IFS='|' read -r body field; do
	[ -n "$body" ] || continue
	post_sync "$body"
	assert_eq 400 "$HCODE" "$body: status (body: $HBODY)"
	assert_contains "$(jf "$HBODY" '.error.message')" "$field" "$body: the message names $field"
done <<'EOF'
{}|source
{"destination": "warehouse"}|source
{"source": "shop"}|destination
{"source": 5, "destination": "warehouse"}|source
{"source": "", "destination": "warehouse"}|source
{"source": "shop", "destination": ["warehouse"]}|destination
{"source": "shop", "destination": "warehouse", "streams": "users"}|streams
{"source": "shop", "destination": "warehouse", "streams": [""]}|streams[0]
{"source": "shop", "destination": "warehouse", "streams": ["users", 7]}|streams[1]
{"source": "shop", "destination": "warehouse", "streams": ["users", "users"]}|streams
{"source": "shop", "destination": "warehouse", "mode": "fast"}|mode
{"source": "shop", "destination": "warehouse", "mode": "reset"}|mode
{"source": "shop", "destination": "warehouse", "since": "yesterday"}|since
{"source": "shop", "destination": "warehouse", "until": "2024-13-01"}|until
{"source": "shop", "destination": "warehouse", "since": "2024-02-01", "until": "2024-01-01"}|until
{"source": "shop", "destination": "warehouse", "since": "2024-01-01", "mode": "full"}|since
{"source": "shop", "destination": "warehouse", "namespace": "bad-ns"}|namespace
{"source": "shop", "destination": "warehouse", "namespace": "1abc"}|namespace
{"source": "shop", "destination": "warehouse", "batch_size": 0}|batch_size
{"source": "shop", "destination": "warehouse", "batch_size": -5}|batch_size
{"source": "shop", "destination": "warehouse", "batch_size": "100"}|batch_size
{"source": "shop", "destination": "warehouse", "batch_size": 1.5}|batch_size
{"source": "shop", "destination": "warehouse", "batch_size": 10000001}|batch_size
{"source": "shop", "destination": "warehouse", "webhook_url": "ftp://example.com/x"}|webhook_url
{"source": "shop", "destination": "warehouse", "webhook_url": "http://"}|webhook_url
{"source": "shop", "destination": "warehouse", "webhook_url": "http://a b"}|webhook_url
{"source": "shop", "destination": "warehouse", "idempotency_key": ""}|idempotency_key
{"source": "shop", "destination": "warehouse", "idempotency_key": 42}|idempotency_key
{"source": "shop", "destination": "warehouse", "colour": "red"}|colour
EOF
LONGKEY=$(printf 'k%.0s' $(seq 1 201))
post_sync "{\"source\": \"shop\", \"destination\": \"warehouse\", \"idempotency_key\": \"$LONGKEY\"}"
assert_eq 400 "$HCODE"
assert_contains "$HBODY" "idempotency_key"
expect_http 400 invalid_json POST /api/v1/syncs "${AUTH[@]}" -d '{"source": "shop",'
expect_http 400 invalid_json POST /api/v1/syncs "${AUTH[@]}"
expect_http 401 unauthorized POST /api/v1/syncs -d '{"source": "shop", "destination": "warehouse"}'

note "unknown source or destination: 404 naming which, with a suggestion"
expect_http 404 not_found POST /api/v1/syncs "${AUTH[@]}" -d '{"source": "shpo", "destination": "warehouse"}'
assert_contains "$HBODY" 'unknown source \"shpo\"'
assert_contains "$HBODY" 'did you mean \"shop\"'
expect_http 404 not_found POST /api/v1/syncs "${AUTH[@]}" -d '{"source": "shop", "destination": "warehous"}'
assert_contains "$HBODY" 'unknown destination \"warehous\"'
assert_eq "$BEFORE" "$(jobs_snapshot)" "no refused request queued anything"

# ---------------------------------------------------------------- POST /api/v1/syncs: accepted
note "POST /api/v1/syncs: 202 with the job; the same idempotency key gives the same job"
SYNC='{"source": "shop", "destination": "warehouse", "streams": ["users"], "namespace": "adhoc",
       "batch_size": 10, "idempotency_key": "nightly-2026-01-01"}'
post_sync "$SYNC"
assert_eq 202 "$HCODE" "POST /api/v1/syncs: $HBODY"
J1=$(jf "$HBODY" '.job_id')
assert_eq "/api/v1/jobs/$J1 queued" "$(jf "$HBODY" '"\(.status_url) \(.status)"')"
post_sync "$SYNC"
assert_eq "202 $J1" "$HCODE $(jf "$HBODY" '.job_id')" "the same key answers the same job"
post_sync '{"source": "shop", "destination": "warehouse", "idempotency_key": "nightly-2026-01-01"}'
assert_eq 409 "$HCODE" "the same key with another request is a conflict: $HBODY"
assert_contains "$HBODY" "job $J1"
assert_eq 1 "$(sq "$STORE" "SELECT count(*) FROM jobs")" "one job for one key"
assert_eq "shop warehouse incremental" "$(sq "$STORE" "SELECT source_name || ' ' || dest_name || ' ' || mode FROM jobs WHERE id = $J1")"

note "GET /api/v1/jobs/{id} of a queued job: attempt, max_attempts, progress, summary, error"
http GET "/api/v1/jobs/$J1" "${AUTH[@]}"
assert_eq 200 "$HCODE"
assert_eq "queued 0 3 queued null 0 null" \
	"$(jf "$HBODY" '"\(.status) \(.attempt) \(.max_attempts) \(.progress.stage) \(.progress.percentage) \(.summary.read) \(.error)"')"
assert_eq "adhoc 10" "$(jf "$HBODY" '"\(.request.namespace) \(.request.batch_size)"')"

note "the job runs (ferry run-due) into PostgreSQL; its stream is read to the end"
EV=$T_DIR/events.txt
timeout 30 curl -sS -N "${AUTH[@]}" "$BASE/api/v1/jobs/$J1/events" >"$EV" 2>"$T_DIR/curl.err" &
CURL_PID=$!
for _ in $(seq 1 50); do
	[ -s "$EV" ] && break
	sleep 0.1
done
assert_contains "$(cat "$EV")" "event: progress" "the stream starts with the job as it is"
run ferry run-due --json
assert_eq "$J1 succeeded" "$(jf "$OUT" '"\(.job_id) \(.status)"')"
RC=0
wait "$CURL_PID" || RC=$?
assert_eq 0 "$RC" "curl -N ended by itself when the job ended ($(cat "$T_DIR/curl.err"))"
EVENTS=$(sed -n 's/^event: //p' "$EV" | tr '\n' ' ')
assert_match "$EVENTS" '^progress (progress )*end $' "progress events, then one end"
FIRST=$(sed -n 's/^data: //p' "$EV" | sed -n 1p)
LAST=$(grep '^data: ' "$EV" | tail -n 2 | sed -n '1s/^data: //p')
assert_eq "$J1 queued" "$(jf "$FIRST" '"\(.id) \(.status)"')"
assert_eq "succeeded done 100 50 50" "$(jf "$LAST" '"\(.status) \(.progress.stage) \(.progress.percentage | floor) \(.summary.read) \(.progress.streams[0].written)"')"
assert_eq "{\"job_id\":$J1,\"status\":\"succeeded\"}" "$(grep '^data: ' "$EV" | tail -n 1 | sed 's/^data: //')"
assert_eq 50 "$(q wh 'SELECT count(*) FROM adhoc.users')"
assert_eq "succeeded 1 0" "$(job_field "$J1" '"\(.status) \(.attempt) \(.summary.updated)"')"

note "the events of a job that already ended: progress and end at once"
http GET "/api/v1/jobs/$J1/events" "${AUTH[@]}" --max-time 10
assert_eq 200 "$HCODE"
assert_eq "progress end " "$(sed -n 's/^event: //p' <<<"$HBODY" | tr '\n' ' ')"
assert_eq "text/event-stream" "$(curl -s -o /dev/null -w '%{content_type}' "${AUTH[@]}" "$BASE/api/v1/jobs/$J1/events")"
expect_http 404 not_found GET /api/v1/jobs/999999/events "${AUTH[@]}"
expect_http 404 not_found GET /api/v1/jobs/abc/events "${AUTH[@]}"
expect_http 400 unknown_parameter GET "/api/v1/jobs/$J1/events?since=1" "${AUTH[@]}"
expect_http 401 unauthorized GET "/api/v1/jobs/$J1/events"

note "a stream of a job that waits gets keep-alive comments"
post_sync '{"source": "shop", "destination": "warehouse", "namespace": "waiting"}'
J2=$(jf "$HBODY" '.job_id')
RC=0
curl -sS -N --max-time 2.5 "${AUTH[@]}" "$BASE/api/v1/jobs/$J2/events" >"$EV" 2>/dev/null || RC=$?
assert_eq 28 "$RC" "the stream stays open while the job waits (curl's --max-time ends it)"
assert_contains "$(cat "$EV")" ": keep-alive"
assert_eq "progress " "$(sed -n 's/^event: //p' "$EV" | tr '\n' ' ')" "nothing changed: one progress event"

# ---------------------------------------------------------------- cancel
note "cancel: a queued job at once (200), then 409"
http POST "/api/v1/jobs/$J2/cancel" "${AUTH[@]}"
assert_eq 200 "$HCODE" "cancel a queued job: $HBODY"
assert_eq "$J2 cancelled true" "$(jf "$HBODY" '"\(.id) \(.status) \(.cancel_requested)"')"
BEFORE=$(jobs_snapshot)
expect_http 409 conflict POST "/api/v1/jobs/$J2/cancel" "${AUTH[@]}"
assert_contains "$HBODY" "cancelled"
expect_http 409 conflict POST "/api/v1/jobs/$J1/cancel" "${AUTH[@]}"
assert_contains "$HBODY" "succeeded"
expect_http 404 not_found POST /api/v1/jobs/999999/cancel "${AUTH[@]}"
assert_eq "$BEFORE" "$(jobs_snapshot)" "refused cancels changed nothing"
run ferry run-due
assert_eq "" "$OUT" "a cancelled job does not run"
assert_eq f "$(pg_has_table wh waiting users)"

note "cancel: a running job (202), stopped at the next batch"
post_sync '{"source": "shop", "destination": "warehouse", "namespace": "slow", "batch_size": 5}'
J3=$(jf "$HBODY" '.job_id')
FERRY_DATABASE_URL="$STORE" FERRY_ENCRYPTION_KEY="$TEST_KEY" FERRY_FAULT="sleep@write#2:2500" \
	"$FERRY_BIN" run-due --json >"$T_DIR/slow.out" 2>"$T_DIR/slow.err" &
SLOW_PID=$!
for _ in $(seq 1 100); do
	[ "$(job_field "$J3" '.status')" = running ] && break
	sleep 0.1
done
http POST "/api/v1/jobs/$J3/cancel" "${AUTH[@]}"
assert_eq 202 "$HCODE" "cancel a running job: $HBODY"
assert_eq "running true" "$(jf "$HBODY" '"\(.status) \(.cancel_requested)"')"
wait_pid "$SLOW_PID"
_check_sanitizers "$T_DIR/slow.err" "ferry run-due (slow)"
assert_eq "$J3 cancelled" "$(jf "$(cat "$T_DIR/slow.out")" '"\(.job_id) \(.status)"')"
assert_eq cancelled "$(job_field "$J3" '.status')"
expect_http 409 conflict POST "/api/v1/jobs/$J3/cancel" "${AUTH[@]}"

# ---------------------------------------------------------------- the scheduler
note "GET /api/v1/connections/due and POST /api/v1/run-due"
run ferry connection add nightly --source shop --dest warehouse --every 1h --namespace nightly
run ferry connection add 'we"ird\x' --source shop --dest warehouse --every 1h --namespace weird
run ferry connection add manual --source shop --dest warehouse --every 1h --auto-sync off --namespace manual
http GET /api/v1/connections/due "${AUTH[@]}"
assert_eq 200 "$HCODE" "$HBODY"
assert_eq 'nightly null null|we"ird\x null null' \
	"$(jf "$HBODY" '[.connections[] | "\(.name) \(.next_run_at) \(.overdue_seconds)"] | sort | join("|")')" \
	"both scheduled connections are due (never ran); auto-sync off is not"
http GET "/api/v1/connections/due?limit=1" "${AUTH[@]}"
assert_eq 1 "$(jf "$HBODY" '.connections | length')"
BEFORE=$(jobs_snapshot)
expect_http 400 invalid_parameter GET "/api/v1/connections/due?limit=0" "${AUTH[@]}"
expect_http 400 unknown_parameter GET "/api/v1/connections/due?every=1" "${AUTH[@]}"
expect_http 400 invalid_field POST /api/v1/run-due "${AUTH[@]}" -d '{"limit": 0}'
assert_contains "$HBODY" "limit"
expect_http 400 invalid_field POST /api/v1/run-due "${AUTH[@]}" -d '{"limit": "5"}'
expect_http 400 unknown_field POST /api/v1/run-due "${AUTH[@]}" -d '{"lim": 5}'
expect_http 405 method_not_allowed GET /api/v1/run-due "${AUTH[@]}"
expect_http 401 unauthorized POST /api/v1/run-due
assert_eq "$BEFORE" "$(jobs_snapshot)" "refused scheduler requests queued nothing"
http POST /api/v1/run-due "${AUTH[@]}" -d '{"limit": 1}'
assert_eq 200 "$HCODE" "$HBODY"
assert_eq 1 "$(jf "$HBODY" '.enqueued')"
http POST /api/v1/run-due "${AUTH[@]}"
assert_eq "200 1" "$HCODE $(jf "$HBODY" '.enqueued')" "no body: the default limit"
TICKED=$(jf "$HBODY" '.jobs[0].connection')
assert_eq "/api/v1/jobs/$(jf "$HBODY" '.jobs[0].job_id')" "$(jf "$HBODY" '.jobs[0].status_url')"
http POST /api/v1/run-due "${AUTH[@]}" -d '{}'
assert_eq "200 0 0" "$HCODE $(jf "$HBODY" '.enqueued') $(jf "$HBODY" '.jobs | length')" "nothing is due any more"
http GET /api/v1/connections/due "${AUTH[@]}"
assert_eq 0 "$(jf "$HBODY" '.connections | length')" "queued connections are not due"
assert_eq 2 "$(sq "$STORE" "SELECT count(*) FROM jobs WHERE connection_id IS NOT NULL AND status = 'queued'")"
run ferry run-due --json
assert_eq "succeeded succeeded" "$(jq -rs '[.[].status] | join(" ")' <<<"$OUT")"
assert_eq 50 "$(q wh 'SELECT count(*) FROM nightly.users')"
assert_eq 50 "$(q wh 'SELECT count(*) FROM weird.users')"
assert_contains "nightly we\"ird\\x" "$TICKED"

# ---------------------------------------------------------------- GET /api/v1/jobs
note "GET /api/v1/jobs: filters"
ALL=$(sq "$STORE" "SELECT group_concat(id, ' ') FROM (SELECT id FROM jobs ORDER BY id DESC)")
http GET "/api/v1/jobs?limit=1000" "${AUTH[@]}"
assert_eq "200 null" "$HCODE $(jf "$HBODY" '.next')"
assert_eq "$ALL" "$(jf "$HBODY" '[.jobs[].id] | join(" ")')" "newest first, every job"
http GET "/api/v1/jobs?status=cancelled" "${AUTH[@]}"
assert_eq "$J3 $J2" "$(jf "$HBODY" '[.jobs[].id] | join(" ")')"
http GET "/api/v1/jobs?connection=nightly" "${AUTH[@]}"
NIGHTLY_ID=$(sq "$STORE" "SELECT id FROM connections WHERE name = 'nightly'")
assert_eq "1 $NIGHTLY_ID" "$(jf "$HBODY" '"\(.jobs | length) \(.jobs[0].connection_id)"')"
http GET "/api/v1/jobs?connection=$NIGHTLY_ID&status=succeeded" "${AUTH[@]}"
assert_eq 1 "$(jf "$HBODY" '.jobs | length')" "by id too"
http GET "/api/v1/jobs?connection=manual" "${AUTH[@]}"
assert_eq "200 0" "$HCODE $(jf "$HBODY" '.jobs | length')"
http GET "/api/v1/jobs?since=2000-01-01T00:00:00Z" "${AUTH[@]}"
assert_eq "$ALL" "$(jf "$HBODY" '[.jobs[].id] | join(" ")')"
http GET "/api/v1/jobs?since=$(($(date +%s) + 3600))" "${AUTH[@]}"
assert_eq 0 "$(jf "$HBODY" '.jobs | length')" "nothing created in the future (unix seconds)"
http GET "/api/v1/jobs?since=2999-01-01" "${AUTH[@]}"
assert_eq 0 "$(jf "$HBODY" '.jobs | length')"
http GET "/api/v1/jobs?since=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S%%2B00:00)" "${AUTH[@]}"
assert_eq "$ALL" "$(jf "$HBODY" '[.jobs[].id] | join(" ")')" "an RFC 3339 time with an offset"

note "GET /api/v1/jobs: bad parameters are 400 naming them"
for p in "limit=0" "limit=1001" "limit=x" "status=done" "since=yesterday" "since=2026-02-30" \
	"before=0" "before=abc" "connection=nightlx" "connection="; do
	expect_http 400 invalid_parameter GET "/api/v1/jobs?$p" "${AUTH[@]}"
	assert_contains "$(jf "$HBODY" '.error.message')" "${p%%=*}"
done
expect_http 400 invalid_parameter GET "/api/v1/jobs?connection=nightlx" "${AUTH[@]}"
assert_contains "$HBODY" 'did you mean \"nightly\"'
expect_http 400 unknown_parameter GET "/api/v1/jobs?page=2" "${AUTH[@]}"

note "GET /api/v1/jobs: pages of 2, the next links followed to the end"
for i in 1 2 3; do
	post_sync "{\"source\": \"shop\", \"destination\": \"warehouse\", \"namespace\": \"p$i\"}"
	assert_eq 202 "$HCODE"
done
ALL=$(sq "$STORE" "SELECT group_concat(id, ' ') FROM (SELECT id FROM jobs ORDER BY id DESC)")
SEEN=""
URL="/api/v1/jobs?limit=2"
PAGES=0
while [ "$URL" != null ]; do
	http GET "$URL" "${AUTH[@]}"
	assert_eq 200 "$HCODE" "GET $URL: $HBODY"
	SEEN="$SEEN $(jf "$HBODY" '[.jobs[].id] | join(" ")')"
	URL=$(jf "$HBODY" '.next')
	PAGES=$((PAGES + 1))
	[ "$PAGES" -lt 20 ] || fail "the next links do not end"
done
assert_eq "$ALL" "$(echo $SEEN)" "every job once, newest first, over the pages"
http GET "/api/v1/jobs?limit=1&status=queued&connection=nightly" "${AUTH[@]}"
assert_eq "0 null" "$(jf "$HBODY" '"\(.jobs | length) \(.next)"')"
http GET "/api/v1/jobs?limit=2&status=queued&since=2000-01-01" "${AUTH[@]}"
NEXT=$(jf "$HBODY" '.next')
assert_match "$NEXT" '^/api/v1/jobs\?limit=2&status=queued&since=2000-01-01&before=[0-9]+$' "next keeps the filters"
http GET "$NEXT" "${AUTH[@]}"
assert_eq "1 null queued" "$(jf "$HBODY" '"\(.jobs | length) \(.next) \(.jobs[0].status)"')"

# ---------------------------------------------------------------- GET /metrics
note "GET /metrics: Prometheus text without a token, counts as in the store"
http GET /metrics
assert_eq 200 "$HCODE" "$HBODY"
assert_eq "text/plain; version=0.0.4; charset=utf-8" "$(curl -s -o /dev/null -w '%{content_type}' "$BASE/metrics")"
M=$HBODY
printf '%s\n' "$M" >"$T_DIR/metrics.txt"
# Every line a comment or "name{labels} value"; every family with HELP and TYPE.
BAD=$(grep -vE '^# (HELP|TYPE) [a-z_]+ .+$' "$T_DIR/metrics.txt" |
	grep -vE '^[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? -?[0-9.e+]+$' || true)
assert_eq "" "$BAD" "lines that are not in the exposition format"
for fam in ferry_build_info ferry_jobs ferry_queue_depth ferry_job_duration_seconds \
	ferry_rows_synced_total ferry_last_success_timestamp_seconds; do
	assert_eq 1 "$(grep -c "^# TYPE $fam " "$T_DIR/metrics.txt")" "one TYPE line for $fam"
	assert_eq 1 "$(grep -c "^# HELP $fam " "$T_DIR/metrics.txt")" "one HELP line for $fam"
done
metric() { # metric 'name{labels}': its value
	K=$1 awk 'index($0, ENVIRON["K"] " ") == 1 { print substr($0, length(ENVIRON["K"]) + 2) }' "$T_DIR/metrics.txt"
}
for s in queued running succeeded failed cancelled; do
	assert_eq "$(sq "$STORE" "SELECT count(*) FROM jobs WHERE status = '$s'")" \
		"$(metric "ferry_jobs{status=\"$s\"}")" "ferry_jobs{status=\"$s\"}"
done
assert_eq 3 "$(metric ferry_queue_depth)"
assert_eq 50 "$(metric 'ferry_rows_synced_total{connection="nightly"}')"
assert_eq 50 "$(metric 'ferry_rows_synced_total{connection="we\"ird\\x"}')" "label values escaped"
assert_eq 0 "$(metric 'ferry_rows_synced_total{connection="manual"}')" "a connection without jobs shows 0"
# ad hoc: J1 wrote 50; J3 was cancelled after a batch or more
ADHOC=$(metric 'ferry_rows_synced_total{connection=""}')
assert_eq "$(sq "$STORE" "SELECT sum(inserted + updated + unchanged) FROM job_streams JOIN jobs ON jobs.id = job_id WHERE connection_id IS NULL")" "$ADHOC"
LS=$(metric 'ferry_last_success_timestamp_seconds{connection="nightly"}')
awk -v t="$LS" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 120 && t <= now + 1) }' ||
	fail "last success of nightly is $LS, not about now"
assert_eq "" "$(metric 'ferry_last_success_timestamp_seconds{connection="manual"}')" "never succeeded: no sample"
ENDED=$(sq "$STORE" "SELECT count(*) FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND duration_ms IS NOT NULL")
assert_eq "$ENDED" "$(metric ferry_job_duration_seconds_count)"
assert_eq "$ENDED" "$(metric 'ferry_job_duration_seconds_bucket{le="+Inf"}')"
grep '^ferry_job_duration_seconds_bucket' "$T_DIR/metrics.txt" | awk '{ if ($2 < last) exit 1; last = $2 }' ||
	fail "histogram buckets are not cumulative: $(grep bucket "$T_DIR/metrics.txt")"
assert_match "$(metric 'ferry_build_info{version="'"$(jf "$(curl -s "$BASE/health")" .version)"'"}')" '^1$'
for secret in "$TOKEN" "$WH_URL" "postgres://" "$TEST_KEY"; do
	assert_not_contains "$M" "$secret" "no secrets in /metrics"
done
if command -v promtool >/dev/null; then
	promtool check metrics <"$T_DIR/metrics.txt" || fail "promtool check metrics failed"
fi
expect_http 400 unknown_parameter GET "/metrics?x=1"
expect_http 405 method_not_allowed POST /metrics

note "SIGTERM with an event stream open: the stream ends cleanly, the server exits 0"
WAITING=$(sq "$STORE" "SELECT max(id) FROM jobs WHERE status = 'queued'")
timeout 30 curl -sS -N "${AUTH[@]}" "$BASE/api/v1/jobs/$WAITING/events" >"$EV" 2>"$T_DIR/curl.err" &
CURL_PID=$!
for _ in $(seq 1 50); do
	[ -s "$EV" ] && break
	sleep 0.1
done
kill -TERM "$SERVE_PID"
wait_pid "$SERVE_PID"
assert_eq 0 "$RC" "ferry serve exits 0 ($(cat "$T_DIR/serve.err"))"
RC=0
wait "$CURL_PID" || RC=$?
assert_eq 0 "$RC" "the stream was ended, not cut ($(cat "$T_DIR/curl.err"))"
assert_contains "$(cat "$EV")" ": the server is stopping"
_check_sanitizers "$T_DIR/serve.err" "ferry serve"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$TOKEN"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$WH_URL"

pass
