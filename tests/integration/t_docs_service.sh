#!/usr/bin/env bash
# The newcomer's walk-through, docs/service.md, works as written: every ```sh
# block of the page (but the build step) is run in order in one shell, with the
# page's ports 8080 and 9000 swapped for free ones. Checked afterwards: the
# 401 without a token, the job's SSE events up to `end`, the 1,000 orders in
# the SQLite warehouse (the ten changed by the page's triggered incremental
# run as changed), both jobs' webhooks (the scheduled first run and the
# trigger) verified by the page's own receiver, the
# token and the signing secret in no log, and a clean SIGTERM.
. "$(dirname "$0")/lib.sh"

DOC=$FERRY_SRC/docs/service.md
WORK=$T_DIR/walk
mkdir -p "$WORK/bin"
ln -s "$FERRY_BIN" "$WORK/bin/ferry"
PORT=$(free_port)
RPORT=$(free_port)
[ "$PORT" != "$RPORT" ] || RPORT=$(free_port)

# Every ```sh block, in order, except the one that builds ferry.
awk '/^```sh[[:space:]]*$/ { b = 1; text = ""; next }
     b && /^```/ { b = 0; if (text !~ /scripts\/setup\.sh/) printf "%s", text; next }
     b { text = text $0 "\n" }' "$DOC" >"$WORK/steps.sh"
[ -s "$WORK/steps.sh" ] || fail "docs/service.md: no \`\`\`sh blocks"
for want in "ferry serve" "api/v1/sources" "api/v1/connections" "/trigger" "/events" "node receiver.js"; do
	assert_contains "$(cat "$WORK/steps.sh")" "$want" "the walk-through has a step with $want"
done
sed -i -e "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/g" -e "s/127\.0\.0\.1:9000/127.0.0.1:$RPORT/g" \
	-e "s/listen(9000,/listen($RPORT,/" "$WORK/steps.sh"

note "running docs/service.md's steps"
cd "$WORK"
RC=0
# Its own session, so whatever the page left running is killed at the end.
env -u FERRY_DATABASE_URL -u FERRY_ENCRYPTION_KEY PATH="$WORK/bin:$PATH" \
	timeout -k 5 180 setsid bash -euo pipefail "$WORK/steps.sh" >"$WORK/out" 2>"$WORK/err" || RC=$?
pkill -KILL -s "$(ps -o sid= $$ | tr -d ' ')" -f "$WORK/steps.sh|receiver.js" 2>/dev/null || true
if [ "$RC" != 0 ]; then
	echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"
	echo "--- serve.log"; cat "$WORK/ferry-service/serve.log" 2>/dev/null || true
	fail "the walk-through's steps failed (exit $RC)"
fi
OUTTEXT=$(cat "$WORK/out")
D=$WORK/ferry-service

assert_contains "$OUTTEXT" '"code":"unauthorized"' "a request without a token is refused"
assert_contains "$OUTTEXT" '"status":"ok"' "/health answers"
assert_contains "$OUTTEXT" "event: progress" "the job's progress streams"
assert_contains "$OUTTEXT" "event: end" "the event stream ends"
assert_contains "$OUTTEXT" '"job_id"' "the trigger answers a job id"
# 1.5 + 3 + ... + 15 of the first ten orders were set to 0 before the triggered run.
assert_eq "1000|750667.5" "$(sqlite3 "$D/warehouse.db" "SELECT count(*) || '|' || sum(amount) FROM orders")" \
	"every order is in the warehouse, the ten changed ones as changed"
assert_eq "verified sync.succeeded job 1: succeeded
verified sync.succeeded job 2: succeeded" "$(cat "$D/webhooks.log")" \
	"the page's receiver verified both jobs' webhooks"
assert_contains "$OUTTEXT" '"last_sync_status": "succeeded"' "the connection's state shows the last sync"
TOKEN=$(cat "$D/token.txt")
SECRET=$(cat "$D/signing.secret")
assert_match "$SECRET" '^whsec_' "the connection answered its signing secret"
for f in "$WORK/out" "$WORK/err" "$D/serve.log"; do
	assert_not_contains "$(cat "$f")" "$TOKEN" "no token in $f"
	assert_not_contains "$(cat "$f")" "${SECRET#whsec_}" "no signing secret in $f"
done
_check_sanitizers "$D/serve.log" "ferry serve"
assert_contains "$(cat "$D/serve.log")" "SIGTERM" "ferry serve stopped on SIGTERM"
pass
