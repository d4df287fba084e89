#!/usr/bin/env bash
# ferry serve's workers and scheduler (SQLite sources -> PostgreSQL): a
# connection every 2s runs again and again; pause stops it, resume restarts
# it; a job queued while no worker runs (serve --workers 0, then killed) is
# run by the next serve; kill -9 of the daemon mid-job, restart: the job is
# retried and completes with every row once; a flaky source (missing for two
# attempts) ends succeeded on attempt 3; a rejected API key fails after one
# attempt and marks its connection "error" while another connection's job
# succeeds beside it; a read stalled past the lease keeps its job (the
# watchdog renews it), and a cancel or a timeout stops a running job; SIGTERM with a job running: exit 0, the job finished
# (long grace) or back in the queue with its attempt uncounted (short grace)
# and a full sync stopped so leaves the live table as it was, for the next
# serve to complete.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

export FERRY_RETRY_BASE_S=1 FERRY_TICK_MS=200 FERRY_LEASE_S=3

mkshop() { # mkshop FILE N [NAME-PREFIX]: a SQLite source database with N users, made aside and moved in
	rm -f "$1.tmp"
	sqlite3 "$1.tmp" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		INSERT INTO users SELECT i, '${3:-user} ' || i FROM n;"
	mv -f "$1.tmp" "$1"
}
con_id() { # con_id NAME
	run ferry connection show "$1" --json
	jq -r '.id' <<<"$OUT"
}
jobs_of() { # jobs_of NAME [STATUS]: how many jobs the connection has (with that status)
	local id
	id=$(con_id "$1")
	sq "$STORE" "SELECT count(*) FROM jobs WHERE connection_id = '$id'${2:+ AND status = '$2'}"
}
newest_job() { # newest_job NAME
	local id
	id=$(con_id "$1")
	sq "$STORE" "SELECT coalesce(max(id), '') FROM jobs WHERE connection_id = '$id'"
}
job() { # job ID JQ: a field of `ferry job show ID --json`
	run ferry job show "$1" --json
	jf "$OUT" "$2"
}
# until_true SECONDS CMD...: run CMD every 0.1 s until it succeeds; fails the test after SECONDS.
until_true() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq 1 "$n"); do
		if "$@"; then
			return 0
		fi
		sleep 0.1
	done
	fail "not true after ${n}00 ms: $*; serve log: $(cat "$T_DIR/serve.err" 2>/dev/null | tail -n 20)"
}
at_least() { [ "$("${@:2}")" -ge "$1" ]; }
job_is() { [ "$(job "$1" .status)" = "$2" ]; }
settled() { # settled NAME: nothing of the connection queued or running
	[ "$(jobs_of "$1" queued)" = 0 ] && [ "$(jobs_of "$1" running)" = 0 ]
}
stop_serve_term() { # SIGTERM and wait: RC is the exit status
	kill -TERM "$SERVE_PID"
	wait_pid "$SERVE_PID"
	_check_sanitizers "$T_DIR/serve.err" "ferry serve"
}
post_sync() { # post_sync JSON: an ad-hoc job; JOB gets its id
	http POST /api/v1/syncs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1"
	assert_eq 202 "$HCODE" "POST /api/v1/syncs $1: $HBODY"
	JOB=$(jf "$HBODY" '.job_id')
}

mkshop "$T_DIR/shop.db" 200
mkshop "$T_DIR/big.db" 1000
WH=$(newdb wh)
run ferry source add shop --type sqlite --set path="$T_DIR/shop.db"
run ferry source add big --type sqlite --set path="$T_DIR/big.db"
run ferry dest add wh --url "$WH"
run ferry token create ci
TOKEN=$OUT

note "bad --workers and --grace values are usage errors"
expect_exit 2 ferry serve --workers 65
assert_contains "$ERR" "--workers"
expect_exit 2 ferry serve --workers -1
expect_exit 2 ferry serve --grace soon
assert_contains "$ERR" "--grace"
expect_exit 2 ferry serve --grace 2d
run ferry serve --help
assert_contains "$OUT" "--workers N"
assert_contains "$OUT" "--grace DURATION"

# ---------------------------------------------------------------- the schedule
note "a connection every 2s runs again and again"
run ferry connection add often --source shop --dest wh --every 2s --namespace often
start_serve --workers 2
until_true 10 at_least 2 jobs_of often succeeded
assert_eq 200 "$(q wh 'SELECT count(*) FROM often.users')"
assert_eq 0 "$(jobs_of often failed)"
assert_match "$(cat "$T_DIR/serve.err")" "job [0-9]+ \(connection often\) succeeded in [0-9.]+s, 200 rows, attempt 1 of 3"

note "pause stops it; resume restarts it"
run ferry connection pause often
until_true 5 settled often
N=$(jobs_of often)
sleep 3
assert_eq "$N" "$(jobs_of often)" "no new job while paused (3 s, an interval and a half)"
run ferry connection resume often
until_true 6 at_least $((N + 1)) jobs_of often succeeded
run ferry connection pause often
until_true 5 settled often

# ---------------------------------------------------------------- failures
note "a rejected API key fails after one attempt; another connection's job succeeds beside it"
peer_start "$FERRY_SRC/tests/fixtures/close_server.js"
BAD=bad_key_$RANDOM$RANDOM
run ferry source add crm --type close --set api_key="$BAD" \
	--set base_url="http://127.0.0.1:$PEER_PORT/api/v1" --set requests_per_second=1000
run ferry connection add crm --source crm --dest wh --every 1h --namespace crm
run ferry connection add steady --source shop --dest wh --every 1h --namespace steady
until_true 10 settled crm
until_true 10 at_least 1 jobs_of steady succeeded
CRM=$(newest_job crm)
assert_eq "failed 1 auth" "$(job "$CRM" '"\(.status) \(.attempt) \(.error_code)"')"
run ferry connection show crm --json
assert_eq error "$(jf "$OUT" '.settings.status // .status')"
assert_eq 200 "$(q wh 'SELECT count(*) FROM steady.users')"

note "a flaky source (missing for two attempts) ends succeeded on attempt 3"
run ferry source add flaky --type sqlite --set path="$T_DIR/flaky.db"
run ferry connection add flaky --source flaky --dest wh --every 1h --namespace flaky
has_job() { [ -n "$(newest_job "$1")" ]; }
until_true 10 has_job flaky
FLAKY=$(newest_job flaky)
attempt2_failed() { [ "$(job "$FLAKY" '"\(.attempt) \(.status)"')" = "2 queued" ]; }
# The backoff before attempt 3 is at least 1 s: the file appears in it.
until_true 15 attempt2_failed
mkshop "$T_DIR/flaky.db" 7
until_true 10 job_is "$FLAKY" succeeded
assert_eq 3 "$(job "$FLAKY" .attempt)" "succeeded on attempt 3"
assert_eq 7 "$(q wh 'SELECT count(*) FROM flaky.users')"
assert_contains "$(cat "$T_DIR/serve.err")" "job $FLAKY (connection flaky) failed after"
assert_contains "$(cat "$T_DIR/serve.err")" "attempt 1 of 3, retry in"
assert_not_contains "$(cat "$T_DIR/serve.err" "$T_DIR/serve.out")" "$BAD" "the API key is never logged"

note "SIGTERM with nothing running: exit 0"
stop_serve_term
assert_eq 0 "$RC" "exit status"
assert_contains "$(cat "$T_DIR/serve.err")" "stopped"

# ---------------------------------------------------------------- restarts
note "a job queued while no worker runs is run by the next serve"
start_serve --workers 0
http POST "/api/v1/connections/$(con_id steady)/trigger" -H "Authorization: Bearer $TOKEN"
assert_eq 202 "$HCODE" "trigger: $HBODY"
QUEUED=$(newest_job steady)
sleep 1
assert_eq queued "$(job "$QUEUED" .status)" "--workers 0 runs no job"
kill -KILL "$SERVE_PID"
wait_pid "$SERVE_PID"
assert_eq queued "$(job "$QUEUED" .status)" "the queued job survives the daemon"
start_serve --workers 2
until_true 10 job_is "$QUEUED" succeeded
assert_eq 1 "$(job "$QUEUED" .attempt)"

note "kill -9 of the daemon mid-job; the restarted daemon retries it: every row once"
stop_serve_term
FERRY_FAULT=sleep@write:400 start_serve --workers 2
post_sync '{"source": "big", "destination": "wh", "namespace": "killed", "batch_size": 100}'
KILLED=$JOB
some_read() { [ "$(job "$KILLED" '[.streams[].read // 0] | add // 0')" -ge 200 ]; }
until_true 20 some_read
assert_eq "running 1" "$(job "$KILLED" '"\(.status) \(.attempt)"')" "killed mid-job"
kill -KILL "$SERVE_PID"
wait_pid "$SERVE_PID"
# The next process to open the store sees the job's process gone and queues it again.
assert_eq "queued 1" "$(job "$KILLED" '"\(.status) \(.attempt)"')"
start_serve --workers 2
until_true 20 job_is "$KILLED" succeeded
assert_eq 2 "$(job "$KILLED" .attempt)" "retried once"
assert_eq "1000|1000" "$(q wh 'SELECT count(*), count(DISTINCT id) FROM killed.users')"

# ---------------------------------------------------------------- the watchdog
note "the watchdog: a read stalled past the lease keeps its job; cancel and timeout stop running jobs"
stop_serve_term
FERRY_LEASE_S=1 FERRY_FAULT=sleep@read:1500 start_serve --workers 2
post_sync '{"source": "shop", "destination": "wh", "namespace": "stalled"}'
STALLED=$JOB
post_sync '{"source": "shop", "destination": "wh", "namespace": "stopped"}'
STOPPED=$JOB
until_true 20 job_is "$STOPPED" running
http POST "/api/v1/jobs/$STOPPED/cancel" -H "Authorization: Bearer $TOKEN"
assert_eq 202 "$HCODE" "cancel of a running job: $HBODY"
run ferry connection add slowpoke --source shop --dest wh --every 1h --timeout 1s --max-attempts 1 \
	--namespace slowpoke
until_true 20 job_is "$STALLED" succeeded
assert_eq 1 "$(job "$STALLED" .attempt)" "the lease (1 s) was renewed through 1.5 s reads: one attempt"
until_true 20 job_is "$STOPPED" cancelled
SLOW=$(newest_job slowpoke)
until_true 20 job_is "$SLOW" failed
assert_eq "timeout 1" "$(job "$SLOW" '"\(.error_code) \(.attempt)"')"
assert_contains "$(job "$SLOW" .error)" "timed out after 1s"
assert_eq f "$(pg_has_table wh slowpoke users)" "nothing written by the timed-out job"

# ---------------------------------------------------------------- graceful stop
note "SIGTERM with a job running and a long grace: the job finishes, exit 0"
stop_serve_term
FERRY_FAULT=sleep@write:200 start_serve --workers 2 --grace 60s
post_sync '{"source": "big", "destination": "wh", "namespace": "graceful", "batch_size": 100}'
GRACEFUL=$JOB
until_true 20 job_is "$GRACEFUL" running
stop_serve_term
assert_eq 0 "$RC" "exit status"
assert_eq "succeeded 1" "$(job "$GRACEFUL" '"\(.status) \(.attempt)"')"
assert_eq 1000 "$(q wh 'SELECT count(*) FROM graceful.users')"
assert_contains "$(cat "$T_DIR/serve.err")" "waiting up to 60.0s for running jobs"

note "SIGTERM with a full sync running and a short grace: stopped, queued again, live table as it was"
start_serve --workers 2
post_sync '{"source": "big", "destination": "wh", "namespace": "swap", "mode": "full"}'
until_true 20 job_is "$JOB" succeeded
BEFORE=$(pg_sum wh swap.users 'id, name')
assert_match "$BEFORE" '^1000 '
stop_serve_term
mkshop "$T_DIR/big.db" 900 renamed
FERRY_FAULT=sleep@write:300 start_serve --workers 2 --grace 1s
post_sync '{"source": "big", "destination": "wh", "namespace": "swap", "mode": "full", "batch_size": 100}'
FULL=$JOB
until_true 20 job_is "$FULL" running
sleep 0.5
stop_serve_term
assert_eq 0 "$RC" "exit status"
assert_eq "queued 0" "$(job "$FULL" '"\(.status) \(.attempt)"')" "back in the queue, the attempt not counted"
assert_eq "$BEFORE" "$(pg_sum wh swap.users 'id, name')" "the live table is as it was"
assert_eq 0 "$(pg_staging_count wh)" "no staging table left"
assert_contains "$(cat "$T_DIR/serve.err")" "grace period over"
start_serve --workers 2
until_true 20 job_is "$FULL" succeeded
assert_eq 1 "$(job "$FULL" .attempt)" "the stopped attempt did not count"
assert_eq "900 900" "$(q wh "SELECT count(*), count(*) FILTER (WHERE name LIKE 'renamed %') FROM swap.users" | tr '|' ' ')"
stop_serve_term
assert_eq 0 "$RC"

pass
