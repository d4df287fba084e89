#!/usr/bin/env bash
# ferry connection add|pause|resume|list|show|rm|rotate-secret, and
# connections in ferry apply / ferry export: the schedule (cron or interval,
# checked by src/sched/cron.c), auto-sync, retry policy, timeout, webhook and
# signed triggers are stored as given; a webhook or signed triggers give the
# connection a signing secret, printed once and sealed (never shown again,
# needs FERRY_ENCRYPTION_KEY); list and show give the schedule state; rm
# refuses while a job is queued; every wrong input is refused with exit 2, a
# message naming what is wrong, and nothing stored.
. "$(dirname "$0")/lib.sh"

run ferry source add shop --type sqlite --set path="$T_DIR/shop.db"
run ferry dest add wh --url "sqlite://$T_DIR/wh.db"
setting() { # setting CONNECTION KEY: a stored setting, as JSON
	run ferry connection show "$1" --json
	jq -c --arg k "$2" '.settings[$k]' <<<"$OUT"
}
count() { run ferry connection list --json; jq 'length' <<<"$OUT"; }

note "add with every option"
run ferry connection add nightly --source shop --dest wh --streams "orders, users" \
	--namespace prod --mode full --cron "0 2 * * MON-FRI" --max-attempts 5 --timeout 30m \
	--webhook https://hooks.example/ferry
assert_contains "$OUT" 'connection "nightly" added'
assert_contains "$OUT" "0 2 * * 1-5 (UTC)" "the schedule as ferry understood it"
assert_eq '"0 2 * * MON-FRI"' "$(setting nightly schedule)"
assert_eq '"on"' "$(setting nightly auto_sync)" "a schedule turns auto-sync on"
assert_eq '"active"' "$(setting nightly status)"
assert_eq '["orders","users"]' "$(setting nightly streams)"
assert_eq '"full"' "$(setting nightly mode)"
assert_eq 5 "$(setting nightly max_attempts)"
assert_eq 1800 "$(setting nightly timeout_s)"
assert_eq '"https://hooks.example/ferry"' "$(setting nightly webhook_url)"
SECRET=$(sed -n 's/^signing secret (shown once): //p' <<<"$OUT")
assert_match "$SECRET" '^whsec_[A-Za-z0-9+/]{32}$' "a webhook gives a signing secret, printed once"
assert_eq '"********"' "$(setting nightly signing_secret)" "shown masked after that"
assert_eq '"off"' "$(setting nightly signed_triggers)" "signed triggers are off by default"
assert_not_contains "$(sq "$STORE" "SELECT settings FROM connections WHERE name = 'nightly'")" "$SECRET" \
	"the signing secret is sealed in the store"
run ferry connection show nightly
assert_not_contains "$OUT" "$SECRET"
assert_contains "$OUT" "next_run_at = -" "show gives the schedule state"
assert_contains "$OUT" "last_sync_status = -"
run ferry connection show nightly --json
assert_eq "null null shop wh" "$(jf "$OUT" '"\(.state.next_run_at) \(.state.last_sync_at) \(.source.name) \(.destination.name)"')"

note "--auto-sync on without a schedule: the connector's interval, an hour by default"
run ferry connection add hourly-default --source shop --dest wh --auto-sync on
assert_contains "$OUT" "schedule 1h (the connector's default interval)"
assert_eq '"3600"' "$(setting hourly-default schedule)"
assert_eq '"on"' "$(setting hourly-default auto_sync)"
run ferry connection rm hourly-default

note "--signed-triggers on: a secret without a webhook; none for a plain connection"
run ferry connection add signed --source shop --dest wh --signed-triggers on
assert_eq '"on"' "$(setting signed signed_triggers)"
assert_match "$(sed -n 's/^signing secret (shown once): //p' <<<"$OUT")" '^whsec_'
run ferry connection add plain --source shop --dest wh
assert_not_contains "$OUT" "signing secret"
assert_eq null "$(setting plain signing_secret)"

note "rotate-secret prints a new secret once"
run ferry connection rotate-secret nightly
NEW=$(sed -n 's/^signing secret (shown once): //p' <<<"$OUT")
assert_match "$NEW" '^whsec_'
assert_ne "$SECRET" "$NEW" "a new secret"
assert_eq '"********"' "$(setting nightly signing_secret)"

note "no FERRY_ENCRYPTION_KEY: a webhook or signed triggers cannot be set up"
N0=$(sq "$STORE" "SELECT count(*) FROM connections")
NO_KEY=1 expect_exit 1 ferry connection add k1 --source shop --dest wh --webhook https://hooks.example/k
assert_error_msg
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
NO_KEY=1 expect_exit 1 ferry connection add k2 --source shop --dest wh --signed-triggers on
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
NO_KEY=1 expect_exit 1 ferry connection rotate-secret nightly
assert_contains "$ERR" "FERRY_ENCRYPTION_KEY"
assert_eq "$N0" "$(sq "$STORE" "SELECT count(*) FROM connections")" "nothing stored without the key"
NO_KEY=1 run ferry connection add k3 --source shop --dest wh --every 1h
NO_KEY=1 run ferry connection rm k3

note "intervals and macros"
run ferry connection add hourly --source shop --dest wh --cron @hourly
assert_contains "$OUT" "0 * * * *"
run ferry connection add often --source shop --dest wh --every 15m
assert_eq '"15m"' "$(setting often schedule)"
run ferry connection add manual --source shop --dest wh
assert_eq '"off"' "$(setting manual auto_sync)" "no schedule: runs only when triggered"
assert_eq null "$(setting manual schedule)"

note "pause and resume"
run ferry connection pause nightly
assert_eq '"paused"' "$(setting nightly status)"
run ferry connection resume nightly
assert_eq '"active"' "$(setting nightly status)"

note "bad input: exit 2, a clear message, nothing stored"
N=$(count)
bad() { # bad NEEDLE ARGS...: `ferry connection ARGS` is refused naming NEEDLE
	local needle=$1
	shift
	expect_exit 2 ferry connection "$@"
	assert_error_msg
	assert_contains "$ERR" "$needle"
	assert_eq "$N" "$(count)" "refused: no connection stored ($*)"
}
bad 'minute field "61" is out of range 0-59' add x --source shop --dest wh --cron "61 * * * *"
bad 'day-of-week' add x --source shop --dest wh --cron "0 0 * * FUNDAY"
bad 'expected 5' add x --source shop --dest wh --cron "0 0 * *"
bad 'unit' add x --source shop --dest wh --every 15q
bad 'not both' add x --source shop --dest wh --cron @daily --every 1h
bad 'use --every' add x --source shop --dest wh --cron 15m
bad 'use --cron' add x --source shop --dest wh --every "0 * * * *"
bad 'incremental or full' add x --source shop --dest wh --mode fast
bad 'on or off' add x --source shop --dest wh --auto-sync maybe
bad '--max-attempts' add x --source shop --dest wh --max-attempts 0
bad 'duration' add x --source shop --dest wh --timeout soon
bad 'http' add x --source shop --dest wh --webhook ftp://hooks.example
bad 'unknown source "nope"' add x --source nope --dest wh
bad 'unknown destination "nowhere"' add x --source shop --dest nowhere
bad 'needs --source and --dest' add x --source shop
bad 'needs a NAME' add --source shop --dest wh
bad 'cannot name a connection' add due --source shop --dest wh
bad 'already exists' add nightly --source shop --dest wh
bad 'unknown connection "nightli"' pause nightli
assert_contains "$ERR" 'did you mean "nightly"'
bad 'on or off' add x --source shop --dest wh --signed-triggers yes
bad '--signed-triggers' add x --source shop --dest wh --signed-triggers ""
bad 'unknown connection "nightli"' rotate-secret nightli
bad 'needs one NAME' rotate-secret
bad 'unknown connection "nope"' rm nope
bad 'unknown connection "nope"' show nope
bad 'list takes no NAME' list nightly
bad 'unknown option' list --colour

note "list shows every connection with its status, schedule and next run"
run ferry connection list
assert_contains "$OUT" "NEXT RUN"
assert_match "$OUT" 'nightly +active +0 2 \* \* MON-FRI'
assert_match "$OUT" 'manual +active +-'
run ferry connection list --json
assert_eq "$N" "$(jf "$OUT" 'length')"
assert_eq "$N" "$(jf "$OUT" '[.[] | select(.state | has("next_run_at"))] | length')" "every connection has its state"

note "rm: refused while a job is queued, then removes"
run ferry connection trigger manual
JOB=$(sed -n 's/^job \([0-9]*\) queued.*/\1/p' <<<"$OUT")
expect_exit 1 ferry connection rm manual
assert_error_msg
assert_contains "$ERR" "has job $JOB queued"
assert_eq "$N" "$(count)" "a refused rm removes nothing"
sq "$STORE" "UPDATE jobs SET status = 'cancelled' WHERE id = $JOB"
run ferry connection rm manual
assert_contains "$OUT" 'connection "manual" removed'
assert_eq $((N - 1)) "$(count)"
expect_exit 1 ferry source rm shop
assert_contains "$ERR" "is used by connection"

note "apply and export keep the schedule; re-applying keeps a pause"
cat >"$T_DIR/f.yaml" <<YAML
connections:
  - name: fromfile
    source: shop
    destination: wh
    schedule: "*/10 * * * *"
    max_attempts: 4
    timeout: 45m
    webhook_url: https://hooks.example/f
YAML
run ferry apply "$T_DIR/f.yaml"
FSECRET=$(sed -n 's/^connection "fromfile": signing secret (shown once): //p' <<<"$OUT")
assert_match "$FSECRET" '^whsec_' "apply prints a new connection's signing secret once"
assert_eq '"*/10 * * * *"' "$(setting fromfile schedule)"
assert_eq 4 "$(setting fromfile max_attempts)"
assert_eq 2700 "$(setting fromfile timeout_s)"
run ferry connection pause fromfile
run ferry apply "$T_DIR/f.yaml"
assert_eq '"paused"' "$(setting fromfile status)" "apply does not resume a paused connection"
assert_not_contains "$OUT" "signing secret" "re-applying keeps the secret (not printed again)"
run ferry export
assert_contains "$OUT" 'schedule: "*/10 * * * *"'
assert_contains "$OUT" 'timeout: "2700s"'
printf '%s\n' "$OUT" >"$T_DIR/exported.yaml"
FERRY_DEST_WH_URL="sqlite://$T_DIR/wh.db" run ferry apply "$T_DIR/exported.yaml"
assert_eq '"0 2 * * MON-FRI"' "$(setting nightly schedule)" "export -> apply round trip"
sed -i 's|\*/10 \* \* \* \*|*/0 * * * *|' "$T_DIR/f.yaml"
N=$(count)
expect_exit 2 ferry apply "$T_DIR/f.yaml"
assert_contains "$ERR" 'f.yaml:2: connection "fromfile"'
assert_eq '"*/10 * * * *"' "$(setting fromfile schedule)" "a refused apply changes nothing"

pass
