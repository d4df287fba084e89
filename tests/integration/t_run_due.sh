#!/usr/bin/env bash
# ferry run-due: scheduled connections (SQLite source -> SQLite destination)
# run when due and not again until their next run; paused and auto-sync-off
# ones do not run; a flaky source (its file missing for two attempts) ends
# succeeded on attempt 3 after backoff; a rejected API key (a 401 fixture
# server) fails after one attempt and marks the connection "error"; a
# run-due killed -9 mid-job leaves the job to the next run-due, which
# completes it with every row once; `ferry connection trigger` queues a job
# and refuses a second one.
. "$(dirname "$0")/lib.sh"

export FERRY_RETRY_BASE_S=1 FERRY_LEASE_S=2

mkshop() { # mkshop FILE N: a SQLite source database with N users
	rm -f "$1"
	sqlite3 "$1" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		INSERT INTO users SELECT i, 'user ' || i FROM n;"
}
setting() { # setting CONNECTION KEY
	run ferry connection show "$1" --json
	jq -r --arg k "$2" '.settings[$k]' <<<"$OUT"
}
job_of() { # job_of CONNECTION-NAME: the newest job id of a connection
	local id
	run ferry connection show "$1" --json
	id=$(jq -r '.id' <<<"$OUT")
	run ferry jobs --json
	jq -r --arg c "$id" '[.[] | select(.connection_id == $c)][0].id' <<<"$OUT"
}

WH=$T_DIR/wh.db
mkshop "$T_DIR/shop.db" 5
run ferry source add shop --type sqlite --set path="$T_DIR/shop.db"
run ferry dest add wh --url "sqlite://$WH"

note "a scheduled connection is due the first time, runs, and is not due again at once"
run ferry connection add hourly --source shop --dest wh --every 1h --namespace h
run ferry connection add paused --source shop --dest wh --every 1s --namespace p
run ferry connection pause paused
run ferry connection add manual --source shop --dest wh --every 1s --auto-sync off --namespace m
run ferry run-due
assert_match "$OUT" '^job [0-9]+ connection hourly: succeeded in [0-9.]+s$'
assert_eq 1 "$(grep -c '^job' <<<"$OUT")" "only the due connection ran (not paused, not auto-sync off)"
assert_eq 5 "$(sq "$WH" 'SELECT count(*) FROM h__users')"
assert_eq 0 "$(sq "$WH" "SELECT count(*) FROM sqlite_master WHERE name IN ('p__users', 'm__users')")"
run ferry run-due
assert_eq "" "$OUT" "not due again before its next run"
run ferry jobs --json
assert_eq 1 "$(jq 'length' <<<"$OUT")" "one job in all"

note "an interval of 1s runs again once it has passed"
run ferry connection add often --source shop --dest wh --every 1s --namespace o
run ferry run-due --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq often "$(jf "$OUT" '.connection')"
sleep 1.2
run ferry run-due --json
assert_eq often "$(jf "$OUT" '.connection')" "due again after its interval"
run ferry connection pause often

note "ferry connection trigger: a job now, a second trigger is refused"
run ferry connection trigger manual
assert_contains "$OUT" "queued"
expect_exit 1 ferry connection trigger manual
assert_error_msg
assert_contains "$ERR" "already queued or running"
run ferry run-due
assert_match "$OUT" 'connection manual: succeeded'
assert_eq 5 "$(sq "$WH" 'SELECT count(*) FROM m__users')"

note "a new scheduled connection triggered before any tick waits for its schedule after that run"
run ferry connection add early --source shop --dest wh --every 1h --namespace e
run ferry connection trigger early
run ferry run-due
assert_match "$OUT" 'connection early: succeeded'
assert_eq 1 "$(grep -c '^job' <<<"$OUT")" "the triggered job ran, and no second job of it"
run ferry run-due
assert_eq "" "$OUT" "not due again: its next run is an hour after the triggered one"
run ferry connection show early --json
NEXT=$(date -d "$(jf "$OUT" '.state.next_run_at')" +%s)
NOW=$(date +%s)
[ "$NEXT" -gt $((NOW + 3500)) ] && [ "$NEXT" -le $((NOW + 3600)) ] ||
	fail "next run $NEXT is not about an hour after now $NOW"
run ferry connection pause early

note "a flaky source: missing for two attempts, then there: succeeded on attempt 3"
run ferry source add flaky --type sqlite --set path="$T_DIR/flaky.db"
run ferry connection add flaky --source flaky --dest wh --every 1h --namespace f
expect_exit 1 ferry run-due
assert_contains "$OUT" "attempt 1 of 3, retry in"
assert_contains "$OUT" "does not exist"
JOB=$(job_of flaky)
# Attempt 2 once its backoff (at most 1 s) has passed.
for i in $(seq 1 30); do
	RC=0
	ferry run-due >>"$T_DIR/rd.out" 2>&1 || RC=$?
	run ferry job show "$JOB" --json
	[ "$(jf "$OUT" '.attempt')" -lt 2 ] || break
	sleep 0.2
done
assert_eq "2 queued" "$(jf "$OUT" '"\(.attempt) \(.status)"')" "attempt 2 failed and was queued again ($(cat "$T_DIR/rd.out"))"
assert_contains "$(cat "$T_DIR/rd.out")" "attempt 2 of 3"
mkshop "$T_DIR/flaky.db" 7
for i in $(seq 1 30); do
	run ferry job show "$JOB" --json
	[ "$(jf "$OUT" '.status')" = queued ] || break
	RC=0
	ferry run-due >"$T_DIR/rd.out" 2>&1 || RC=$?
	sleep 0.2
done
run ferry job show "$JOB" --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 3 "$(jf "$OUT" '.attempt')" "succeeded on attempt 3"
run ferry job show "$JOB"
assert_contains "$OUT" "attempts:    3 of 3"
assert_eq 7 "$(sq "$WH" 'SELECT count(*) FROM f__users')"

note "a rejected API key: failed after one attempt, the connection marked error"
peer_start "$FERRY_SRC/tests/fixtures/close_server.js"
BAD=bad_key_$RANDOM$RANDOM
run ferry source add crm --type close --set api_key="$BAD" \
	--set base_url="http://127.0.0.1:$PEER_PORT/api/v1" --set requests_per_second=1000
run ferry connection add crm --source crm --dest wh --every 1h --namespace c
expect_exit 1 ferry run-due
assert_contains "$OUT" "connection crm: failed"
assert_contains "$OUT" "attempt 1 of 3)"
assert_not_contains "$OUT$ERR" "$BAD" "the key is never shown"
JOB=$(job_of crm)
run ferry job show "$JOB" --json
assert_eq failed "$(jf "$OUT" '.status')"
assert_eq 1 "$(jf "$OUT" '.attempt')"
assert_eq auth "$(jf "$OUT" '.error_code')"
assert_eq error "$(setting crm status)"
sleep 1.2
run ferry run-due
assert_eq "" "$OUT" "a connection in error does not run"

note "kill -9 of run-due mid-job: the next run-due retries it, rows once"
mkshop "$T_DIR/slow.db" 9
run ferry source add slow --type sqlite --set path="$T_DIR/slow.db"
run ferry connection add slow --source slow --dest wh --every 1h --namespace s
FERRY_FAULT=sleep@read:3000 ferry_bg "$T_DIR/killed" run-due
for i in $(seq 1 50); do
	JOB=$(job_of slow)
	if [ "$JOB" != null ]; then
		run ferry job show "$JOB" --json
		[ "$(jf "$OUT" '.status')" != running ] || break
	fi
	sleep 0.1
done
assert_eq running "$(jf "$OUT" '.status')" "the job runs in the background run-due"
kill -9 "$FERRY_PID"
wait_pid "$FERRY_PID"
sleep 2.2
run ferry run-due
assert_match "$OUT" "^job $JOB connection slow: succeeded"
run ferry job show "$JOB" --json
assert_eq 2 "$(jf "$OUT" '.attempt')" "retried once"
assert_eq "9|9" "$(sq "$WH" 'SELECT count(*), count(DISTINCT id) FROM s__users')"

pass
