#!/usr/bin/env bash
# Completion webhooks (SQLite source -> PostgreSQL destination, ferry serve
# and run-due): a connection's job ends and its webhook arrives, signed per
# Standard Webhooks with the connection's own secret, the signature checked
# here with Node's crypto and not with ferry; a receiver that answers 500
# twice gets the same message (same id, same body) again after backoff, and
# `ferry job show` lists the three attempts; an ad-hoc POST /api/v1/syncs with
# a webhook_url is signed with the store-wide secret (`ferry webhook-secret`);
# a failed job sends sync.failed; a redirect is not followed; run-due sends
# the webhooks of the jobs it ran and leaves a failing one pending; the URL's
# query, the secrets and the key never appear in logs or output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

command -v node >/dev/null || fail "node is needed for the webhook receiver"
export FERRY_WEBHOOK_RETRY_BASE_S=1 FERRY_TICK_MS=200 FERRY_RETRY_BASE_S=1
RECEIVER=$FERRY_SRC/tests/fixtures/webhook_receiver.js

# verify SECRET RECORD-JSON: exits 0 when the record's webhook-signature holds a
# v1 HMAC-SHA256 of "{id}.{timestamp}.{body}" under the whsec_ key (Node crypto).
verify() {
	node -e '
		const crypto = require("crypto");
		const [secret, rec] = [process.argv[1], JSON.parse(process.argv[2])];
		const h = rec.headers;
		const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
		const want = crypto.createHmac("sha256", key)
			.update(`${h["webhook-id"]}.${h["webhook-timestamp"]}.${rec.body}`).digest("base64");
		const got = (h["webhook-signature"] || "").split(" ")
			.filter((s) => s.startsWith("v1,")).map((s) => s.slice(3));
		const ok = got.some((g) => g.length === want.length &&
			crypto.timingSafeEqual(Buffer.from(g), Buffer.from(want)));
		process.exit(ok ? 0 : 1);
	' "$1" "$2"
}
# requests PORT [PATH]: the receiver's records as a JSON array.
requests() {
	curl -sS "http://127.0.0.1:$1/__requests${2:+?path=$2}"
}
# wait_requests PORT PATH N: until the receiver has N records on PATH (15 s at most).
wait_requests() {
	local i
	for i in $(seq 1 150); do
		R=$(requests "$1" "$2")
		[ "$(jq length <<<"$R")" -lt "$3" ] || return 0
		sleep 0.1
	done
	fail "the receiver got $(jq length <<<"$R") requests on $2, expected $3; serve log: $(cat "$T_DIR/serve.err" 2>/dev/null)"
}
# wait_job ID STATUS
wait_job() {
	local i
	for i in $(seq 1 150); do
		run ferry job show "$1" --json
		[ "$(jf "$OUT" '.status')" != "$2" ] || return 0
		sleep 0.1
	done
	fail "job $1 is $(jf "$OUT" '.status'), expected $2"
}
newest_job() { # newest_job CONNECTION
	local id
	run ferry connection show "$1" --json
	id=$(jq -r '.id' <<<"$OUT")
	run ferry jobs --json
	jq -r --arg c "$id" '[.[] | select(.connection_id == $c)][0].id // empty' <<<"$OUT"
}

WH=$(newdb wh)
sq "$T_DIR/shop.db" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
	INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger');"
run ferry source add shop --type sqlite --set path="$T_DIR/shop.db"
run ferry dest add wh --url "$WH"
run ferry token create ci
TOKEN=$OUT
QTOKEN=query_token_$RANDOM$RANDOM

# ---------------------------------------------------------------- a connection's webhook
note "a connection's job ends: its webhook comes, signed with the connection's secret, after two 500s"
peer_start "$RECEIVER" --fail 2
HOOK=$PEER_PORT
run ferry connection add hooked --source shop --dest wh --every 1h --namespace hooked \
	--webhook "http://127.0.0.1:$HOOK/hook?token=$QTOKEN"
SECRET=$(sed -n 's/^signing secret (shown once): //p' <<<"$OUT")
assert_match "$SECRET" '^whsec_[A-Za-z0-9+/=]{32,}$' "connection add shows the signing secret once"
start_serve --workers 2
for i in $(seq 1 100); do
	JOB=$(newest_job hooked)
	[ -z "$JOB" ] || break
	sleep 0.1
done
[ -n "$JOB" ] || fail "the scheduler queued no job for the connection"
wait_job "$JOB" succeeded
assert_eq 3 "$(q wh 'SELECT count(*) FROM hooked.users')"
wait_requests "$HOOK" /hook 3
assert_eq "500 500 200" "$(jq -r '[.[].answered] | join(" ")' <<<"$R")"
for n in 0 1 2; do
	REC=$(jq -c ".[$n]" <<<"$R")
	verify "$SECRET" "$REC" || fail "attempt $((n + 1)): the signature does not verify: $REC"
	assert_eq "application/json" "$(jf "$REC" '.headers["content-type"]')"
	assert_eq "?token=$QTOKEN" "$(jf "$REC" '.query')" "the URL is called as given"
	TS=$(jf "$REC" '.headers["webhook-timestamp"]')
	NOW=$(date +%s)
	[ $((NOW - TS)) -lt 300 ] && [ $((TS - NOW)) -lt 300 ] || fail "webhook-timestamp $TS is not now ($NOW)"
done
assert_eq 1 "$(jq '[.[].headers["webhook-id"]] | unique | length' <<<"$R")" "retries keep the message id"
assert_eq 1 "$(jq '[.[].body] | unique | length' <<<"$R")" "retries send the same body"
assert_match "$(jq -r '.[0].headers["webhook-id"]' <<<"$R")" '^msg_[A-Za-z0-9]+$'
BODY=$(jq -r '.[0].body' <<<"$R")
assert_eq "sync.succeeded $JOB succeeded 3" \
	"$(jf "$BODY" '"\(.type) \(.job.id) \(.job.status) \(.job.streams[0].read)"')"
assert_match "$(jf "$BODY" '.timestamp')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'
WRONG=$(jq -c '.[2] | .body |= sub("succeeded"; "failed")' <<<"$R")
if verify "$SECRET" "$WRONG"; then fail "a changed body still verifies"; fi

note "the delivery log in ferry job show: three attempts"
for i in $(seq 1 50); do
	run ferry job show "$JOB" --json
	[ "$(jf "$OUT" '.deliveries[0].status')" != delivered ] || break
	sleep 0.1
done
assert_eq "delivered 3 200" "$(jf "$OUT" '.deliveries[0] | "\(.status) \(.attempt) \(.last_http_status)"')"
assert_eq "500 500 200" "$(jf "$OUT" '[.deliveries[0].attempts[].http_status] | join(" ")')"
assert_eq "http://127.0.0.1:$HOOK/hook" "$(jf "$OUT" '.deliveries[0].url')" "shown without its query"
assert_eq "$(jq -r '.[0].headers["webhook-id"]' <<<"$R")" "$(jf "$OUT" '.deliveries[0].message_id')"
http GET "/api/v1/jobs/$JOB/deliveries" -H "Authorization: Bearer $TOKEN"
assert_eq 200 "$HCODE" "GET /api/v1/jobs/{id}/deliveries"
assert_eq "$(jf "$OUT" '.deliveries | tojson')" "$(jf "$HBODY" '.deliveries | tojson')" \
	"the API's delivery log is the one ferry job show gives"
assert_not_contains "$HBODY" "$QTOKEN"
expect_http 404 not_found GET /api/v1/jobs/999999/deliveries -H "Authorization: Bearer $TOKEN"
expect_http 401 unauthorized GET "/api/v1/jobs/$JOB/deliveries"
run ferry job show "$JOB"
assert_contains "$OUT" "webhooks:"
assert_match "$OUT" "sync.succeeded to http://127.0.0.1:$HOOK/hook: delivered, 3 of 5 attempts"
assert_eq 2 "$(grep -c 'HTTP 500' <<<"$OUT")"
assert_contains "$OUT" "answered HTTP 500"

# ---------------------------------------------------------------- ad hoc
note "an ad-hoc sync with a webhook_url: signed with the store-wide secret"
peer_start "$RECEIVER"
ADHOC=$PEER_PORT
http POST /api/v1/syncs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d "{\"source\": \"shop\", \"destination\": \"wh\", \"namespace\": \"adhoc\",
	     \"webhook_url\": \"http://127.0.0.1:$ADHOC/adhoc?sig=$QTOKEN\"}"
assert_eq 202 "$HCODE" "POST /api/v1/syncs: $HBODY"
AJOB=$(jf "$HBODY" '.job_id')
wait_job "$AJOB" succeeded
wait_requests "$ADHOC" /adhoc 1
REC=$(jq -c '.[0]' <<<"$R")
run ferry webhook-secret
STORE_SECRET=$OUT
assert_match "$STORE_SECRET" '^whsec_[A-Za-z0-9+/=]{32,}$'
verify "$STORE_SECRET" "$REC" || fail "the ad-hoc webhook does not verify with ferry webhook-secret: $REC"
if verify "$SECRET" "$REC"; then fail "the ad-hoc webhook verifies with a connection's secret"; fi
assert_eq "sync.succeeded $AJOB" "$(jf "$(jf "$REC" '.body')" '"\(.type) \(.job.id)"')"
run ferry webhook-secret
assert_eq "$STORE_SECRET" "$OUT" "the store-wide secret is kept"

note "a job that fails for good sends sync.failed"
run ferry source add gone --type sqlite --set path="$T_DIR/missing.db"
run ferry connection add broken --source gone --dest wh --every 1h --max-attempts 1 \
	--webhook "http://127.0.0.1:$ADHOC/failed"
wait_requests "$ADHOC" /failed 1
BODY=$(jq -r '.[0].body' <<<"$R")
assert_eq "sync.failed failed" "$(jf "$BODY" '"\(.type) \(.job.status)"')"
[ -n "$(jf "$BODY" '.job.error // empty')" ] || fail "the failed job's webhook carries no error: $BODY"

note "a redirect is not followed: the attempt failed"
peer_start "$RECEIVER" --fail 100 --status 302
REDIR=$PEER_PORT
run ferry connection add moved --source shop --dest wh --every 1h --namespace moved \
	--webhook "http://127.0.0.1:$REDIR/moved"
wait_requests "$REDIR" /moved 1
MJOB=$(newest_job moved)
for i in $(seq 1 50); do
	run ferry job show "$MJOB" --json
	[ "$(jf "$OUT" '.deliveries[0].attempt')" = 0 ] || break
	sleep 0.1
done
assert_eq "pending 302" "$(jf "$OUT" '.deliveries[0] | "\(.status) \(.last_http_status)"')"
assert_contains "$(jf "$OUT" '.deliveries[0].last_error')" "redirects are not followed"
assert_eq 0 "$(jq '[.[] | select(.path == "/elsewhere")] | length' <<<"$(requests "$REDIR")")"
run ferry connection pause moved

note "SIGTERM: serve exits 0"
kill -TERM "$SERVE_PID"
wait_pid "$SERVE_PID"
_check_sanitizers "$T_DIR/serve.err" "ferry serve"
assert_eq 0 "$RC" "ferry serve exit status"

# ---------------------------------------------------------------- run-due
note "run-due sends the webhooks of the jobs it ran; a failing receiver's stays pending"
peer_start "$RECEIVER" --fail 100
DOWN=$PEER_PORT
run ferry connection add nightly --source shop --dest wh --every 1h --namespace nightly \
	--webhook "http://127.0.0.1:$ADHOC/nightly"
run ferry connection add flaky_hook --source shop --dest wh --every 1h --namespace fh \
	--webhook "http://127.0.0.1:$DOWN/down"
run ferry run-due
assert_contains "$OUT" "connection nightly: succeeded"
assert_contains "$OUT" "connection flaky_hook: succeeded"
assert_eq 1 "$(jq length <<<"$(requests "$ADHOC" /nightly)")" "run-due sent the webhook before exiting"
assert_eq 1 "$(jq length <<<"$(requests "$DOWN" /down)")" "one attempt"
assert_contains "$ERR" "attempt 1 of 5 failed, retry in 1s"
FJOB=$(newest_job flaky_hook)
run ferry job show "$FJOB" --json
assert_eq "pending 1 500" "$(jf "$OUT" '.deliveries[0] | "\(.status) \(.attempt) \(.last_http_status)"')"

# ---------------------------------------------------------------- secrets
note "webhook-secret: rotation, and no key"
run ferry webhook-secret --rotate
assert_ne "$STORE_SECRET" "$OUT" "rotated"
assert_match "$OUT" '^whsec_'
NO_KEY=1 expect_exit 1 ferry webhook-secret
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
expect_exit 2 ferry webhook-secret extra
expect_exit 2 ferry webhook-secret --frobnicate

note "no secret in any log or output"
LOGS=$(cat "$T_DIR"/serve.err "$T_DIR"/serve.out)
for s in "$QTOKEN" "${SECRET#whsec_}" "${STORE_SECRET#whsec_}" "$TEST_KEY" "$TOKEN"; do
	assert_not_contains "$LOGS" "$s" "a secret in ferry serve's log"
done
run ferry job show "$JOB"
assert_not_contains "$OUT" "$QTOKEN"
assert_contains "$LOGS" "webhook sync.succeeded of job $JOB to http://127.0.0.1:$HOOK/hook: delivered (HTTP 200)"

pass
