#!/usr/bin/env bash
# kill -9 of `ferry sync --full` at every stage (FERRY_FAULT) and at a random
# moment (a real external kill -9): the live tables are always the complete old
# data or the complete new data, never a mix; the next run succeeds, leaves no
# staging tables, and the killed job shows as failed (interrupted).
. "$(dirname "$0")/lib.sh"

# Two sources with the same tables: "old" and "new" contents. Syncing old puts
# the destination in the old state; the killed run tries to bring the new one.
OLD=$(newdb old)
NEW=$(newdb new)
DST=$(newdb dst)
for db in old new; do
	qs "$db" <<'SQL'
CREATE TABLE a (id int PRIMARY KEY, v text NOT NULL, n numeric);
INSERT INTO a SELECT i, 'a' || i, i * 0.5 FROM generate_series(1, 3000) i;
CREATE TABLE b (id bigint PRIMARY KEY, w text);
INSERT INTO b SELECT i, md5(i::text) FROM generate_series(1, 2000) i;
CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL);
INSERT INTO big SELECT i, repeat(md5(i::text), 3), timestamptz '2024-01-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1, 200000) i;
SQL
done
qs new <<'SQL'
UPDATE a SET v = v || ' new', n = n + 1 WHERE id % 7 = 0;
DELETE FROM a WHERE id % 11 = 0;
INSERT INTO a SELECT i, 'a' || i || ' new', 0 FROM generate_series(3001, 3500) i;
UPDATE b SET w = 'new ' || w WHERE id % 5 = 0;
DELETE FROM b WHERE id BETWEEN 100 AND 150;
UPDATE big SET payload = 'new' WHERE id % 10 = 0;
DELETE FROM big WHERE id % 97 = 0;
INSERT INTO big SELECT i, 'added', now() FROM generate_series(200001, 210000) i;
SQL

run ferry source add old --type postgres --set url="$OLD" --set tables=a,b,big
run ferry source add new --type postgres --set url="$NEW" --set tables=a,b,big
run ferry dest add dw --url "$DST"

COLS_A="id, v, n"
COLS_B="id, w"
COLS_BIG="id, payload, at"
# state DB [TABLES]: checksums of the live tables in DB (default: the destination).
state() {
	local db=${1:-dst} tables=${2:-a b}
	local out="" t cols
	for t in $tables; do
		case $t in a) cols=$COLS_A ;; b) cols=$COLS_B ;; big) cols=$COLS_BIG ;; esac
		out+="$t:$(pg_sum "$db" "public.$t" "$cols") "
	done
	echo "$out"
}
OLD_AB=$(state old)
NEW_AB=$(state new)
assert_ne "$OLD_AB" "$NEW_AB" "the two sources differ"

# is_old_or_new WHAT NOW OLD NEW: which one NOW is, or fail.
which_state() {
	local what=$1 now=$2 old=$3 new=$4
	if [ "$now" = "$old" ]; then
		echo old
	elif [ "$now" = "$new" ]; then
		echo new
	else
		{
			echo "FAIL: $T_NAME: $what: the live tables are neither the complete old nor the complete new data"
			echo "  old:  $old"
			echo "  new:  $new"
			echo "  live: $now"
		} >&2
		exit 1
	fi
}

killed_job_is_interrupted() {
	run ferry jobs --json
	local st err
	st=$(jf "$OUT" '.[0].status')
	err=$(jf "$OUT" '.[0].error')
	assert_eq failed "$st" "$1: the killed job is marked failed"
	assert_contains "$err" "interrupted" "$1: the killed job's error says it was interrupted"
	assert_eq full "$(jf "$OUT" '.[0].mode')" "$1: the killed job is the full sync"
}

# Each point: (point, what the live tables must be afterwards).
for spec in "kill@read#2:old" "kill@write#3:old" "kill@stream_end:old" "kill@before_commit:old" \
	"kill@swap:any" "kill@after_commit:new"; do
	fault=${spec%:*}
	want=${spec##*:}
	note "FERRY_FAULT=$fault"
	run ferry sync old dw a b --full --backup-retention 0
	assert_eq "$OLD_AB" "$(state)" "$fault: the destination starts from the old data"
	FERRY_FAULT=$fault expect_exit 137 ferry sync new dw a b --full --batch-size 500
	got=$(which_state "$fault" "$(state)" "$OLD_AB" "$NEW_AB")
	if [ "$want" != any ]; then
		assert_eq "$want" "$got" "$fault: the live tables must hold the $want data"
	fi
	killed_job_is_interrupted "$fault"
	run ferry sync new dw a b --full --backup-retention 0 --json
	assert_eq succeeded "$(jf "$OUT" '.status')" "$fault: the next run succeeds"
	assert_eq "$NEW_AB" "$(state)" "$fault: the next run brings the new data"
	assert_eq 0 "$(pg_staging_count dst)" "$fault: the next run leaves no staging tables"
done

note "FERRY_FAULT=kill@write#2 on the first full sync into an empty destination"
EMPTY=$(newdb empty)
run ferry dest add empty --url "$EMPTY"
FERRY_FAULT=kill@write#2 expect_exit 137 ferry sync new empty a b --full --batch-size 500
for t in a b; do
	assert_eq f "$(pg_has_table empty public "$t")" "a killed first full sync publishes no half table ($t)"
done
run ferry sync new empty a b --full --backup-retention 0
assert_eq "$NEW_AB" "$(state empty)"
assert_eq 0 "$(pg_staging_count empty)"

# ---------------------------------------------------------------- SQLite destination
note "the same kill points with a SQLite destination"
LITE=$T_DIR/lite.db
run ferry dest add lite --url "sqlite://$LITE"
lite_state() {
	printf 'a:%s b:%s' \
		"$(sq "$LITE" "SELECT count(*) || ' ' || group_concat(r, '|') FROM (SELECT id || ',' || v || ',' || n AS r FROM a ORDER BY id)" | md5sum | cut -c1-32)" \
		"$(sq "$LITE" "SELECT count(*) || ' ' || group_concat(r, '|') FROM (SELECT id || ',' || w AS r FROM b ORDER BY id)" | md5sum | cut -c1-32)"
}
run ferry sync old lite a b --full --backup-retention 0
LITE_OLD=$(lite_state)
run ferry sync new lite a b --full --backup-retention 0
LITE_NEW=$(lite_state)
assert_ne "$LITE_OLD" "$LITE_NEW"
for spec in "kill@read#2:old" "kill@write#3:old" "kill@stream_end:old" "kill@before_commit:old" \
	"kill@swap:any" "kill@after_commit:new"; do
	fault=${spec%:*}
	want=${spec##*:}
	run ferry sync old lite a b --full --backup-retention 0
	assert_eq "$LITE_OLD" "$(lite_state)" "sqlite $fault: starts from the old data"
	FERRY_FAULT=$fault expect_exit 137 ferry sync new lite a b --full --batch-size 500
	got=$(which_state "sqlite $fault" "$(lite_state)" "$LITE_OLD" "$LITE_NEW")
	if [ "$want" != any ]; then
		assert_eq "$want" "$got" "sqlite $fault: the live tables must hold the $want data"
	fi
	assert_eq ok "$(sq "$LITE" 'PRAGMA integrity_check')" "sqlite $fault: the database file is intact"
	killed_job_is_interrupted "sqlite $fault"
	run ferry sync new lite a b --full --backup-retention 0
	assert_eq "$LITE_NEW" "$(lite_state)" "sqlite $fault: the next run brings the new data"
	assert_eq 0 "$(sq "$LITE" "SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_staging\\_%' ESCAPE '\\'")" \
		"sqlite $fault: no staging tables after the next run"
done

# ---------------------------------------------------------------- external kill -9
note "external kill -9 at a random moment (200k rows, --batch-size 1000)"
OLD_ALL=$(state old "a b big")
NEW_ALL=$(state new "a b big")
run ferry sync old dw --full --backup-retention 0
assert_eq "$OLD_ALL" "$(state dst "a b big")"
# How long a complete run takes here (sanitizer builds are slower).
t0=$(date +%s%N)
run ferry sync new dw --full --batch-size 1000 --backup-retention 0
ms=$((($(date +%s%N) - t0) / 1000000))
note "a complete full sync of 215k rows takes ${ms} ms"
assert_eq "$NEW_ALL" "$(state dst "a b big")"
seen_old=0 seen_new=0
for pct in 15 40 65 90 97 $((RANDOM % 80 + 10)); do
	run ferry sync old dw --full --backup-retention 0
	delay=$((ms * pct / 100))
	ferry_bg "$T_DIR/ext" sync new dw --full --batch-size 1000
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 "$FERRY_PID" 2>/dev/null || true
	wait_pid "$FERRY_PID"
	rc=$RC
	_check_sanitizers "$T_DIR/ext.err" "external kill run"
	got=$(which_state "kill -9 after ${delay} ms" "$(state dst "a b big")" "$OLD_ALL" "$NEW_ALL")
	note "killed after ${delay} ms (exit $rc): live tables hold the $got data"
	if [ "$rc" = 137 ]; then
		[ "$got" = old ] && seen_old=$((seen_old + 1))
		[ "$got" = new ] && seen_new=$((seen_new + 1))
		# A kill that lands after the swap committed and the job was recorded
		# (while ferry prints its report) leaves a succeeded job with the new
		# data; anything earlier must show as interrupted.
		run ferry jobs --json
		if [ "$got" = new ] && [ "$(jf "$OUT" '.[0].status')" = succeeded ]; then
			note "the kill came after the job was recorded as succeeded"
		else
			killed_job_is_interrupted "kill -9 after ${delay} ms"
		fi
	else
		assert_eq 0 "$rc" "a run that was not killed succeeded"
	fi
	run ferry sync new dw --full --batch-size 1000 --backup-retention 0 --json
	assert_eq succeeded "$(jf "$OUT" '.status')" "the run after a kill -9 succeeds"
	assert_eq "$NEW_ALL" "$(state dst "a b big")" "the run after a kill -9 brings the new data"
	assert_eq 0 "$(pg_staging_count dst)" "the run after a kill -9 leaves no staging tables"
done
[ $((seen_old + seen_new)) -gt 0 ] || fail "no run was actually killed mid-way (the sync finished before every kill)"

assert_eq 0 "$(pg_staging_count dst)"
pass
