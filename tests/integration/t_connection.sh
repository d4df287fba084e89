#!/usr/bin/env bash
# ferry connection add|pause|resume|show|rm, and connections in ferry apply /
# ferry export: the schedule (cron or interval, checked by src/sched/cron.c),
# auto-sync, retry policy, timeout and webhook are stored as given; every
# wrong input is refused with exit 2, a message naming what is wrong, and
# nothing stored.
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
bad 'needs a schedule' add x --source shop --dest wh --auto-sync on
bad '--max-attempts' add x --source shop --dest wh --max-attempts 0
bad 'duration' add x --source shop --dest wh --timeout soon
bad 'http' add x --source shop --dest wh --webhook ftp://hooks.example
bad 'unknown source "nope"' add x --source nope --dest wh
bad 'unknown destination "nowhere"' add x --source shop --dest nowhere
bad 'needs --source and --dest' add x --source shop
bad 'needs a NAME' add --source shop --dest wh
bad 'already exists' add nightly --source shop --dest wh
bad 'unknown connection "nightli"' pause nightli
assert_contains "$ERR" 'did you mean "nightly"'

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
assert_eq '"*/10 * * * *"' "$(setting fromfile schedule)"
assert_eq 4 "$(setting fromfile max_attempts)"
assert_eq 2700 "$(setting fromfile timeout_s)"
run ferry connection pause fromfile
run ferry apply "$T_DIR/f.yaml"
assert_eq '"paused"' "$(setting fromfile status)" "apply does not resume a paused connection"
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
