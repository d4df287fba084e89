#!/usr/bin/env bash
# The source or the destination going away in the middle of a sync: the job
# fails (exit 1) with a message that names which side, the live tables are
# untouched, and the next run puts everything right.
. "$(dirname "$0")/lib.sh"

SRC=$(newdb src)
DST=$(newdb dst)
qs src <<'SQL'
CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO big SELECT i, repeat(md5(i::text), 3), timestamptz '2024-01-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1, 200000) i;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT i, 'v' || i FROM generate_series(1, 100) i;
SQL
run ferry source add shop --type postgres --set url="$SRC" --set tables=big,small --set cursor.big=updated_at
run ferry dest add warehouse --url "$DST"
run ferry sync shop warehouse --full --backup-retention 0

live() { echo "big:$(pg_sum "${1:-dst}" big 'id, payload, updated_at') small:$(pg_sum "${1:-dst}" small 'id, v')"; }

# change_source: a new version of the data, with the cursor moving forward.
gen=0
change_source() {
	gen=$((gen + 1))
	q src "UPDATE big SET payload = payload || '.$gen', updated_at = (SELECT max(updated_at) FROM big) + id * interval '1 ms'
	       WHERE id % 5 = $((gen % 5));
	       UPDATE small SET v = v || '.$gen'" >/dev/null
}

# terminate DB: end every session on that database (as an admin or a failover would).
terminate() {
	PGOPTIONS="-c client_min_messages=error" psql -X -q -At -d postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	                                WHERE datname = '$(dbname "$1")' AND pid <> pg_backend_pid()"
}

# goes_away SIDE MODE: start a sync that pauses at its 2nd write, end every
# session on SIDE's database meanwhile, and check the failure.
goes_away() {
	local side=$1 mode=$2 flag="" n
	[ "$mode" = full ] && flag=--full
	FERRY_FAULT=sleep@write#2:4000 ferry_bg "$T_DIR/$side-$mode" sync shop warehouse $flag --batch-size 1000
	sleep 1.5
	n=$(terminate "$side")
	note "terminated $n session(s) on the $side database"
	[ "$n" -ge 1 ] || fail "$side/$mode: ferry had no session open on the $side database while syncing"
	wait_pid "$FERRY_PID"
	OUT=$(cat "$T_DIR/$side-$mode.out")
	ERR=$(cat "$T_DIR/$side-$mode.err")
	_check_sanitizers "$T_DIR/$side-$mode.err" "$side goes away ($mode)"
	assert_eq 1 "$RC" "$side/$mode: the job fails with exit 1 (stderr: $ERR)"
	assert_match "$ERR" '(^|\n)ferry: ' "$side/$mode: an error line beginning with 'ferry: '"
	if [ "$side" = src ]; then
		assert_contains "$ERR" "source" "$side/$mode: the message says it was the source"
		assert_contains "$ERR" "shop" "$side/$mode: the message names the source"
	else
		assert_contains "$ERR" "destination" "$side/$mode: the message says it was the destination"
		assert_contains "$ERR" "warehouse" "$side/$mode: the message names the destination"
	fi
	run ferry jobs --json
	assert_eq failed "$(jf "$OUT" '.[0].status')" "$side/$mode: the job is recorded as failed"
	assert_ne "" "$(jf "$OUT" '.[0].error // ""')" "$side/$mode: the job records its error"
}

# ---------------------------------------------------------------- full
for side in src dst; do
	note "full sync, the $side database goes away"
	before=$(live)
	change_source
	goes_away "$side" full
	assert_eq "$before" "$(live)" "$side/full: the live tables are untouched"
	if [ "$side" = src ]; then
		assert_eq 0 "$(pg_staging_count dst)" "src/full: the failed job dropped its staging tables"
	fi
	run ferry sync shop warehouse --full --backup-retention 0 --json
	assert_eq succeeded "$(jf "$OUT" '.status')" "$side/full: the next run succeeds"
	assert_eq "$(live src)" "$(live)" "$side/full: the next run brings the new data"
	assert_eq 0 "$(pg_staging_count dst)" "$side/full: no staging tables after the next run"
done

# ---------------------------------------------------------------- incremental
for side in src dst; do
	note "incremental sync, the $side database goes away"
	change_source
	goes_away "$side" incremental
	run ferry sync shop warehouse --json
	assert_eq succeeded "$(jf "$OUT" '.status')" "$side/incremental: the next run succeeds"
	assert_eq "$(live src)" "$(live)" "$side/incremental: the next run catches up exactly"
done
pass
