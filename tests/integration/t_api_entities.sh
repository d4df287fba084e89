#!/usr/bin/env bash
# The HTTP API for sources, destinations and connections (ferry serve
# --workers 0, so queued jobs stay queued until this test runs them): a full
# create / list / show / PATCH / DELETE round trip; secrets are write-only (a
# source's api_key, a database URL's password and a connection's signing
# secret never come back, and are sealed in the store); every refusal (400
# malformed JSON, unknown field, bad value; 401; 404; 405; 409; 413) leaves
# the store as it was; a trigger answers 202 and then 409 while its job is
# queued, and two triggers at once give one 202 and one 409; a triggered job
# run by `ferry run-due` fills a real PostgreSQL destination and shows in the
# connection's state; signed triggers (Standard Webhooks, signed here with
# openssl) are accepted, a wrong, stale or unsigned one is 401 and queues
# nothing, and a replayed webhook-id queues no second job.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "curl is needed"
command -v openssl >/dev/null || fail "openssl is needed (to sign triggers)"
. "$(dirname "$0")/serve_lib.sh"

# counts: "sources destinations connections jobs" in the state store.
counts() {
	sq "$STORE" "SELECT (SELECT count(*) FROM sources) || ' ' || (SELECT count(*) FROM destinations)
	             || ' ' || (SELECT count(*) FROM connections) || ' ' || (SELECT count(*) FROM jobs)"
}
# settings_of TABLE NAME: the stored settings JSON of an entity.
settings_of() { sq "$STORE" "SELECT settings FROM $1 WHERE name = '$2'"; }
# refused CODE ERRCODE METHOD PATH [CURL ARGS]: an error answer, and nothing changed in the store.
refused() {
	local before
	before=$(counts)
	expect_http "$@"
	assert_eq "$before" "$(counts)" "$3 $4 refused ($1): the store is unchanged"
}
# sign SECRET ID TS BODY: a Standard Webhooks v1 signature of "ID.TS.BODY".
sign() {
	local hexkey
	hexkey=$(printf '%s' "${1#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	printf 'v1,%s' "$(printf '%s.%s.%s' "$2" "$3" "$4" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64)"
}
msg() { jf "$HBODY" .error.message; }
jobs_of() { sq "$STORE" "SELECT count(*) FROM jobs WHERE connection_id = '$1'"; }

# ---------------------------------------------------------------- setup
SHOP=$T_DIR/shop.db
sq "$SHOP" "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
            INSERT INTO customers SELECT i, 'customer ' || i FROM n;"
DST=$(newdb dst)
SRCPW=SrcPw0rd-$RANDOM
DSTPW=DstPw0rd-$RANDOM
APIKEY=sk_test_ApiKey$RANDOM$RANDOM
DST_URL="postgres://postgres:$DSTPW@127.0.0.1:$PGPORT/$(dbname dst)"
run ferry token create t
TOKEN=$OUT
AUTH=(-H "Authorization: Bearer $TOKEN")
JSON=(-H "Content-Type: application/json")
start_serve --workers 0
api() { http "$1" "$2" "${AUTH[@]}" "${JSON[@]}" "${@:3}"; }

# ---------------------------------------------------------------- sources
note "POST /api/v1/sources: 201, secrets write-only"
api POST /api/v1/sources -d "{\"name\": \"shop\", \"type\": \"sqlite\", \"settings\": {\"path\": \"$SHOP\"}}"
assert_eq 201 "$HCODE" "create a sqlite source: $HBODY"
SHOP_ID=$(jf "$HBODY" .id)
assert_match "$SHOP_ID" '^src_' "a source id"
assert_eq "shop sqlite $SHOP" "$(jf "$HBODY" '"\(.name) \(.type) \(.settings.path)"')"
api POST /api/v1/sources -d "{\"name\": \"billing\", \"type\": \"stripe\",
	\"settings\": {\"api_key\": \"$APIKEY\", \"base_url\": \"http://127.0.0.1:9/\"}}"
assert_eq 201 "$HCODE" "create a stripe source: $HBODY"
assert_eq "********" "$(jf "$HBODY" .settings.api_key)" "the api_key is masked"
assert_not_contains "$HBODY" "$APIKEY"
api POST /api/v1/sources -d "{\"name\": \"pgsrc\", \"type\": \"postgres\",
	\"settings\": {\"url\": \"postgres://postgres:$SRCPW@127.0.0.1:$PGPORT/x\", \"tables\": \"a\"}}"
assert_eq 201 "$HCODE" "create a postgres source: $HBODY"
assert_eq "********" "$(jf "$HBODY" .settings.url)"
assert_not_contains "$HBODY" "$SRCPW"
assert_not_contains "$(settings_of sources billing)" "$APIKEY" "the api_key is sealed in the store"
assert_not_contains "$(settings_of sources pgsrc)" "$SRCPW" "the URL is sealed in the store"

api GET /api/v1/sources
assert_eq 200 "$HCODE"
assert_eq "billing pgsrc shop" "$(jf "$HBODY" '[.sources[].name] | join(" ")')"
assert_not_contains "$HBODY" "$APIKEY"
assert_not_contains "$HBODY" "$SRCPW"
api GET "/api/v1/sources/$SHOP_ID"
assert_eq "200 shop" "$HCODE $(jf "$HBODY" .name)" "GET by id"
api GET /api/v1/sources/billing
assert_eq "200 billing" "$HCODE $(jf "$HBODY" .name)" "GET by name"
assert_not_contains "$HBODY" "$APIKEY"

note "PATCH /api/v1/sources: merge, \"********\" keeps a secret, null removes a key"
api PATCH /api/v1/sources/billing -d '{"settings": {"api_key": "********", "sync_batch_size": 50}}'
assert_eq 200 "$HCODE" "PATCH keeping the secret: $HBODY"
assert_eq "50 ********" "$(jf "$HBODY" '"\(.settings.sync_batch_size) \(.settings.api_key)"')"
run ferry source show billing --json
assert_eq "********" "$(jf "$OUT" .settings.api_key)" "still a sealed secret"
api PATCH /api/v1/sources/billing -d '{"settings": {"sync_batch_size": null}}'
assert_eq "200 null" "$HCODE $(jf "$HBODY" .settings.sync_batch_size)" "null removes a setting"
api PATCH /api/v1/sources/pgsrc -d "{\"settings\": {\"tables\": \"a,b\"}}"
assert_eq "200 a,b" "$HCODE $(jf "$HBODY" .settings.tables)"
assert_not_contains "$(settings_of sources pgsrc)" "$SRCPW" "a PATCH keeps the URL sealed"

# ---------------------------------------------------------------- destinations
note "POST /api/v1/destinations: the URL is write-only"
api POST /api/v1/destinations -d "{\"name\": \"wh\", \"url\": \"$DST_URL\"}"
assert_eq 201 "$HCODE" "create a destination: $HBODY"
WH_ID=$(jf "$HBODY" .id)
assert_eq "postgres ********" "$(jf "$HBODY" '"\(.type) \(.settings.url)"')"
assert_not_contains "$HBODY" "$DSTPW"
assert_not_contains "$(settings_of destinations wh)" "$DSTPW"
api POST /api/v1/destinations -d "{\"name\": \"lite\", \"settings\": {\"url\": \"sqlite://$T_DIR/lite.db\"}}"
assert_eq "201 sqlite" "$HCODE $(jf "$HBODY" .type)" "settings.url works too"
api PATCH /api/v1/destinations/lite -d '{"url": "********"}'
assert_eq 200 "$HCODE" "PATCH with the mask changes nothing"
api PATCH /api/v1/destinations/lite -d "{\"url\": \"sqlite://$T_DIR/lite2.db\"}"
assert_eq 200 "$HCODE"
run ferry dest list --json
assert_not_contains "$OUT" "$DSTPW"

# ---------------------------------------------------------------- connections
note "POST /api/v1/connections: the CLI's fields; schedule state in the answer"
api POST /api/v1/connections -d '{"name": "nightly", "source": "shop", "destination": "wh",
	"streams": ["customers"], "namespace": "api", "mode": "full", "schedule": "0 2 * * MON-FRI",
	"max_attempts": 5, "timeout": "30m", "webhook_url": "https://hooks.example/ferry"}'
assert_eq 201 "$HCODE" "create a connection: $HBODY"
CON=$(jf "$HBODY" .id)
assert_match "$CON" '^con_'
assert_eq "$SHOP_ID $WH_ID" "$(jf "$HBODY" '"\(.settings.source_id) \(.settings.destination_id)"')"
assert_eq "shop wh" "$(jf "$HBODY" '"\(.source.name) \(.destination.name)"')"
assert_eq "full on active 5 1800 off" \
	"$(jf "$HBODY" '.settings | "\(.mode) \(.auto_sync) \(.status) \(.max_attempts) \(.timeout_s) \(.signed_triggers)"')"
assert_eq "null null" "$(jf "$HBODY" '"\(.state.last_sync_at) \(.state.running_job_id)"')" "state: never ran"
SECRET=$(jf "$HBODY" .signing_secret)
assert_match "$SECRET" '^whsec_[A-Za-z0-9+/]{32}$' "a webhook URL gives a signing secret, shown once"
assert_eq "********" "$(jf "$HBODY" .settings.signing_secret)"
assert_not_contains "$(settings_of connections nightly)" "$SECRET" "the signing secret is sealed"
api GET "/api/v1/connections/$CON"
assert_eq 200 "$HCODE"
assert_eq null "$(jf "$HBODY" .signing_secret)" "GET never shows the signing secret"
assert_not_contains "$HBODY" "$SECRET"
assert_eq "null" "$(jf "$HBODY" .state.last_sync_status)"
run ferry connection show nightly --json
assert_not_contains "$OUT" "$SECRET"
api GET /api/v1/connections
assert_eq "200 nightly" "$HCODE $(jf "$HBODY" '[.connections[].name] | join(" ")')"

note "PATCH /api/v1/connections: merge and re-check; dropping the schedule stops auto-sync"
api PATCH /api/v1/connections/nightly -d '{"schedule": "*/30 * * * *", "max_attempts": "4"}'
assert_eq 200 "$HCODE" "$HBODY"
assert_eq "*/30 * * * * 4 full on" "$(jf "$HBODY" '.settings | "\(.schedule) \(.max_attempts) \(.mode) \(.auto_sync)"')"
api PATCH /api/v1/connections/nightly -d '{"schedule": null}'
assert_eq "200 null off" "$HCODE $(jf "$HBODY" '"\(.settings.schedule) \(.settings.auto_sync)"')"
api PATCH /api/v1/connections/nightly -d '{"webhook_url": null}'
assert_eq "200 null ********" "$HCODE $(jf "$HBODY" '"\(.settings.webhook_url) \(.settings.signing_secret)"')" \
	"the secret stays when the webhook goes"
assert_eq null "$(jf "$HBODY" .signing_secret)" "an existing secret is not shown again"

note "pause and resume"
api POST /api/v1/connections/nightly/pause
assert_eq "200 paused" "$HCODE $(jf "$HBODY" .settings.status)"
api POST /api/v1/connections/nightly/resume
assert_eq "200 active" "$HCODE $(jf "$HBODY" .settings.status)"

# ---------------------------------------------------------------- refusals
note "every refusal leaves the store unchanged"
refused 400 invalid_json POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", '
refused 400 invalid_json POST /api/v1/connections "${AUTH[@]}" -d '[1, 2]'
refused 400 unknown_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", "type": "sqlite", "colour": 1}'
assert_contains "$(msg)" '"colour"'
refused 400 unknown_field POST /api/v1/connections "${AUTH[@]}" -d '{"name": "x", "source": "shop", "destination": "wh", "shedule": "@daily"}'
assert_contains "$HBODY" "shedule"
refused 400 invalid_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", "type": "mysql"}'
assert_contains "$(msg)" 'unknown source type "mysql"'
refused 400 invalid_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", "type": "sqlite", "settings": {"pth": "/tmp/a"}}'
assert_contains "$(msg)" 'did you mean "path"'
refused 400 invalid_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", "type": "sqlite", "settings": {}}'
assert_contains "$HBODY" "path"
refused 400 invalid_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": "x", "type": "sqlite", "settings": {"path": ["a"]}}'
refused 400 invalid_field POST /api/v1/sources "${AUTH[@]}" -d '{"name": 5, "type": "sqlite"}'
assert_contains "$(msg)" '"name"'
refused 400 invalid_field POST /api/v1/destinations "${AUTH[@]}" -d '{"name": "x", "url": "mysql://u:SecretPw@h/db"}'
assert_not_contains "$HBODY" "SecretPw" "a refused URL is not echoed"
refused 400 invalid_field POST /api/v1/destinations "${AUTH[@]}" -d '{"name": "x", "url": "postgres://u:SecretPw@h:notaport/db"}'
assert_not_contains "$HBODY" "SecretPw"
bad_con() { # bad_con NEEDLE JSON-FIELDS: a connection with these fields is refused naming NEEDLE
	refused 400 invalid_field POST /api/v1/connections "${AUTH[@]}" \
		-d "{\"name\": \"x\", \"source\": \"shop\", \"destination\": \"wh\", $2}"
	assert_contains "$(msg)" "$1"
}
bad_con 'minute field "61" is out of range 0-59' '"schedule": "61 * * * *"'
bad_con 'schedule' '"schedule": "0 0 * *"'
bad_con 'mode is incremental or full' '"mode": "fast"'
bad_con 'auto_sync is on or off' '"auto_sync": "maybe"'
bad_con 'max_attempts must be 1 to 100' '"max_attempts": 0'
bad_con 'max_attempts must be 1 to 100' '"max_attempts": "many"'
bad_con 'timeout' '"timeout": "soon"'
bad_con 'webhook_url must be an http:// or https:// URL' '"webhook_url": "ftp://x"'
bad_con 'signed_triggers is on or off' '"signed_triggers": "yes"'
bad_con 'status is active or paused' '"status": "error"'
bad_con 'streams must be a list' '"streams": {"a": 1}'
refused 400 invalid_field POST /api/v1/connections "${AUTH[@]}" -d '{"name": "x", "source": "nope", "destination": "wh"}'
assert_contains "$(msg)" 'unknown source "nope"'
refused 400 invalid_field POST /api/v1/connections "${AUTH[@]}" -d '{"name": "x", "source": "shop"}'
refused 400 invalid_field PATCH /api/v1/sources/shop "${AUTH[@]}" -d '{"type": "postgres"}'
refused 400 invalid_field PATCH /api/v1/connections/nightly "${AUTH[@]}" -d '{"name": "renamed"}'
refused 400 invalid_field PATCH /api/v1/connections/nightly "${AUTH[@]}" -d '{"mode": "sideways"}'
api GET /api/v1/connections/nightly
assert_eq full "$(jf "$HBODY" .settings.mode)" "a refused PATCH changed nothing"

refused 401 unauthorized GET /api/v1/sources
refused 401 unauthorized POST /api/v1/sources -d '{"name": "x", "type": "sqlite", "settings": {"path": "/x"}}'
refused 401 unauthorized DELETE /api/v1/sources/shop -H "Authorization: Bearer fy_$(printf 'A%.0s' $(seq 1 43))"
refused 404 not_found GET /api/v1/sources/nope "${AUTH[@]}"
refused 404 not_found PATCH /api/v1/destinations/nope "${AUTH[@]}" -d '{"url": "sqlite:///tmp/x"}'
refused 404 not_found DELETE /api/v1/connections/nope "${AUTH[@]}"
refused 404 not_found POST /api/v1/connections/nope/pause "${AUTH[@]}"
refused 405 method_not_allowed PUT /api/v1/sources/shop "${AUTH[@]}" -d '{}'
refused 405 method_not_allowed DELETE /api/v1/sources "${AUTH[@]}"
refused 409 conflict POST /api/v1/sources "${AUTH[@]}" -d "{\"name\": \"shop\", \"type\": \"sqlite\", \"settings\": {\"path\": \"$SHOP\"}}"
refused 409 conflict POST /api/v1/connections "${AUTH[@]}" -d '{"name": "nightly", "source": "shop", "destination": "wh"}'
refused 409 conflict DELETE /api/v1/sources/shop "${AUTH[@]}"
assert_contains "$(msg)" 'used by connection "nightly"'
refused 409 conflict DELETE "/api/v1/destinations/$WH_ID" "${AUTH[@]}"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T_DIR/big.json"
refused 413 payload_too_large POST /api/v1/sources "${AUTH[@]}" --data-binary "@$T_DIR/big.json"

note "no key on the server: a secret cannot be stored (400 no_key)"
# A second server without FERRY_ENCRYPTION_KEY, on the same store.
NOKEY_PORT=$(free_port)
env -u FERRY_ENCRYPTION_KEY FERRY_DATABASE_URL="$STORE" "$FERRY_BIN" serve --workers 0 \
	--listen "127.0.0.1:$NOKEY_PORT" >"$T_DIR/nokey.out" 2>"$T_DIR/nokey.err" &
NOKEY_PID=$!
trap 'kill -KILL $NOKEY_PID 2>/dev/null || true; stop_serve' EXIT
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$NOKEY_PORT/health" && break
	sleep 0.1
done
before=$(counts)
SAVED_BASE=$BASE
BASE=http://127.0.0.1:$NOKEY_PORT
expect_http 400 no_key POST /api/v1/destinations "${AUTH[@]}" -d "{\"name\": \"k\", \"url\": \"$DST_URL\"}"
assert_contains "$HBODY" FERRY_ENCRYPTION_KEY
expect_http 400 no_key POST /api/v1/connections "${AUTH[@]}" -d '{"name": "k", "source": "shop", "destination": "wh", "signed_triggers": true}'
assert_contains "$HBODY" FERRY_ENCRYPTION_KEY
BASE=$SAVED_BASE
kill -TERM $NOKEY_PID
wait_pid $NOKEY_PID
assert_eq "$before" "$(counts)" "nothing stored without the key"

# ---------------------------------------------------------------- trigger
note "trigger: 202, then 409 while the job is queued"
api POST /api/v1/connections/nightly/trigger
assert_eq 202 "$HCODE" "trigger: $HBODY"
JOB=$(jf "$HBODY" .job_id)
assert_eq "/api/v1/jobs/$JOB" "$(jf "$HBODY" .status_url)"
api GET "/api/v1/jobs/$JOB"
assert_eq "200 queued $CON" "$HCODE $(jf "$HBODY" '"\(.status) \(.connection_id)"')"
refused 409 conflict POST /api/v1/connections/nightly/trigger "${AUTH[@]}"
assert_contains "$HBODY" "already has job $JOB"
refused 409 conflict DELETE /api/v1/connections/nightly "${AUTH[@]}"
assert_contains "$HBODY" "job $JOB"
expect_exit 1 ferry connection rm nightly
assert_contains "$ERR" "job $JOB queued"

note "the queued job runs (ferry run-due) into PostgreSQL; the state shows it"
run ferry run-due
assert_contains "$OUT" "succeeded"
assert_eq 20 "$(q dst 'SELECT count(*) FROM api.customers')" "the triggered sync filled the destination"
api GET /api/v1/connections/nightly
assert_eq "succeeded null" "$(jf "$HBODY" '"\(.state.last_sync_status) \(.state.running_job_id)"')"
[ "$(jf "$HBODY" .state.last_sync_at)" != null ] || fail "last_sync_at not set: $HBODY"
run ferry connection list
assert_contains "$OUT" "succeeded" "connection list shows the last sync"

note "an idempotency key gives the same job"
api POST /api/v1/connections/nightly/trigger -d '{"idempotency_key": "k-1"}'
assert_eq 202 "$HCODE"
K1=$(jf "$HBODY" .job_id)
api POST /api/v1/connections/nightly/trigger -d '{"idempotency_key": "k-1"}'
assert_eq "202 $K1 true" "$HCODE $(jf "$HBODY" '"\(.job_id) \(.existing)"')"
refused 400 unknown_field POST /api/v1/connections/nightly/trigger "${AUTH[@]}" -d '{"mode": "full"}'
refused 400 invalid_json POST /api/v1/connections/nightly/trigger "${AUTH[@]}" -d '{'
run ferry run-due

note "two triggers at once: one 202, one 409"
RACE=()
for i in 1 2; do
	curl -sS -o /dev/null -w '%{http_code}\n' -X POST "${AUTH[@]}" \
		"$BASE/api/v1/connections/nightly/trigger" >"$T_DIR/race.$i" &
	RACE+=($!)
done
wait "${RACE[@]}"
assert_eq "202 409" "$(cat "$T_DIR/race.1" "$T_DIR/race.2" | sort | tr '\n' ' ' | sed 's/ $//')"
run ferry run-due

# ---------------------------------------------------------------- signed triggers
note "signed triggers: off by default, so a signed request is 401"
TS=$(date +%s)
BODY='{"from": "scheduler"}'
N=$(jobs_of "$CON")
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_off" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$SECRET" msg_off "$TS" "$BODY")"
assert_eq "$N" "$(jobs_of "$CON")" "nothing queued"

note "turned on: a good signature queues a job (no token)"
api PATCH /api/v1/connections/nightly -d '{"signed_triggers": true}'
assert_eq "200 on" "$HCODE $(jf "$HBODY" .settings.signed_triggers)"
SIG=$(sign "$SECRET" msg_1 "$TS" "$BODY")
http POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_1" -H "webhook-timestamp: $TS" -H "webhook-signature: $SIG"
assert_eq 202 "$HCODE" "signed trigger: $HBODY"
SJOB=$(jf "$HBODY" .job_id)
http POST "/api/v1/connections/$CON/trigger" -d "$BODY" \
	-H "webhook-id: msg_1" -H "webhook-timestamp: $TS" -H "webhook-signature: $SIG"
assert_eq "202 $SJOB true" "$HCODE $(jf "$HBODY" '"\(.job_id) \(.existing)"')" "a replay queues nothing new"
assert_eq $((N + 1)) "$(jobs_of "$CON")" "one job for the message"
run ferry run-due
http POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_1" -H "webhook-timestamp: $TS" -H "webhook-signature: $SIG"
assert_eq "202 $SJOB" "$HCODE $(jf "$HBODY" .job_id)" "a replay after the job ran runs nothing again"
assert_eq $((N + 1)) "$(jobs_of "$CON")"

note "wrong, stale, tampered and missing signatures: 401, nothing queued"
N=$(jobs_of "$CON")
OTHER=whsec_$(head -c 24 /dev/urandom | base64)
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_2" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$OTHER" msg_2 "$TS" "$BODY")"
assert_contains "$HBODY" "does not verify"
OLD=$((TS - 600))
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_3" -H "webhook-timestamp: $OLD" -H "webhook-signature: $(sign "$SECRET" msg_3 "$OLD" "$BODY")"
assert_contains "$HBODY" "webhook-timestamp"
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d '{"from": "someone else"}' \
	-H "webhook-id: msg_4" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$SECRET" msg_4 "$TS" "$BODY")"
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_5" -H "webhook-timestamp: $TS"
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY"
note "an unknown connection answers like a bad signature"
refused 401 unauthorized POST /api/v1/connections/nosuch/trigger -d "$BODY" \
	-H "webhook-id: msg_6" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$SECRET" msg_6 "$TS" "$BODY")"
UNKNOWN_MSG=$(jf "$HBODY" .error.message)
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_7" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$OTHER" msg_7 "$TS" "$BODY")"
assert_eq "$UNKNOWN_MSG" "$(jf "$HBODY" .error.message)" "the same answer for an unknown connection"
assert_eq "$N" "$(jobs_of "$CON")" "no job from any refused signed trigger"

note "rotate-secret: the new secret once; the old one stops verifying"
api POST /api/v1/connections/nightly/rotate-secret
assert_eq 200 "$HCODE" "rotate: $HBODY"
NEW=$(jf "$HBODY" .signing_secret)
assert_match "$NEW" '^whsec_'
assert_ne "$SECRET" "$NEW"
TS=$(date +%s)
refused 401 unauthorized POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_8" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$SECRET" msg_8 "$TS" "$BODY")"
http POST /api/v1/connections/nightly/trigger -d "$BODY" \
	-H "webhook-id: msg_9" -H "webhook-timestamp: $TS" -H "webhook-signature: $(sign "$NEW" msg_9 "$TS" "$BODY")"
assert_eq 202 "$HCODE" "the new secret verifies: $HBODY"
run ferry run-due

# ---------------------------------------------------------------- delete
note "DELETE: 204, then 404; a source no longer used can go"
api DELETE /api/v1/connections/nightly
assert_eq 204 "$HCODE" "delete the connection: $HBODY"
assert_eq "" "$HBODY"
expect_http 404 not_found GET /api/v1/connections/nightly "${AUTH[@]}"
api DELETE "/api/v1/sources/$SHOP_ID"
assert_eq 204 "$HCODE"
api DELETE /api/v1/destinations/wh
assert_eq 204 "$HCODE"
assert_eq "2 1 0" "$(sq "$STORE" "SELECT (SELECT count(*) FROM sources) || ' ' || (SELECT count(*) FROM destinations) || ' ' || (SELECT count(*) FROM connections)")"

assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$APIKEY" "no secret in the server's output"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$SRCPW"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$DSTPW"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "${NEW#whsec_}"

note "ferry serve stops cleanly (and, in a sanitizer build, without a report)"
kill -TERM "$SERVE_PID"
wait_pid "$SERVE_PID"
assert_eq 0 "$RC" "ferry serve exit status on SIGTERM"
_check_sanitizers "$T_DIR/serve.err" "ferry serve"
pass
