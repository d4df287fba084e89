#!/usr/bin/env bash
# kill -9 during an incremental sync (FERRY_FAULT and a real external kill):
# the stored cursor never runs ahead of the rows it covers, and the next run
# finishes with no row missing and none duplicated.
. "$(dirname "$0")/lib.sh"

SRC=$(newdb src)
DST=$(newdb dst)
qs src <<'SQL'
CREATE TABLE ev (id int PRIMARY KEY, v text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO ev SELECT i, 'v' || i, timestamptz '2024-01-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1, 1500) i;
CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO big SELECT i, repeat(md5(i::text), 3), timestamptz '2024-01-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1, 150000) i;
SQL
run ferry source add src --type postgres --set url="$SRC" --set tables=ev,big \
	--set cursor.ev=updated_at --set cursor.big=updated_at
run ferry dest add dw --url "$DST"

same() {
	local t=$1 msg=$2 cols='id, v, updated_at'
	[ "$t" = ev ] || cols='id, payload, updated_at'
	assert_eq "$(pg_sum src "$t" "$cols")" "$(pg_sum dst "$t" "$cols")" "$msg"
	assert_eq 0 "$(q dst "SELECT count(*) - count(DISTINCT id) FROM $t")" "$msg: no duplicates"
}

# cursor_consistent TABLE WHAT: every source row at or before the stored cursor
# is in the destination with its current value (the cursor moved with its rows).
cursor_consistent() {
	local t=$1 what=$2 cur col
	col=$(q dst "SELECT string_agg(column_name, ',') FROM information_schema.columns
	             WHERE table_schema = 'public' AND table_name = '_ferry_state' AND column_name ~ 'cursor'")
	[ -n "$col" ] || return 0 # no state table yet: nothing committed
	cur=$(q dst "SELECT $col FROM _ferry_state WHERE stream = '$t'" 2>/dev/null | head -n 1 || true)
	[ -n "$cur" ] || return 0
	if ! q src "SELECT '$cur'::timestamptz" >/dev/null 2>&1; then
		note "cursor '$cur' is not a timestamp; skipping the cursor check"
		return 0
	fi
	local vcol=v missing
	[ "$t" = ev ] || vcol=payload
	q src "COPY (SELECT id || '/' || updated_at || '/' || md5($vcol) FROM $t WHERE updated_at <= '$cur'::timestamptz)
	       TO STDOUT" >"$T_DIR/upto.txt"
	missing=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$(dbname dst)" <<SQL
CREATE TEMP TABLE upto (k text);
\copy upto FROM '$T_DIR/upto.txt'
SELECT count(*) FROM upto WHERE NOT EXISTS (
  SELECT 1 FROM $t d WHERE d.id || '/' || d.updated_at || '/' || md5(d.$vcol) = upto.k);
SQL
)
	assert_eq 0 "$missing" "$what: every source row up to the stored cursor ($cur) is in the destination ($(wc -l <"$T_DIR/upto.txt") rows)"
}

killed_job_is_interrupted() {
	run ferry jobs --json
	assert_eq failed "$(jf "$OUT" '.[0].status')" "$1: the killed job is marked failed"
	assert_contains "$(jf "$OUT" '.[0].error')" "interrupted" "$1: the killed job says interrupted"
}

# ---------------------------------------------------------------- first run killed
note "kill@write#3 during the first incremental run (--batch-size 100)"
FERRY_FAULT=kill@write#3 expect_exit 137 ferry sync src dw ev --batch-size 100
n=$(q dst "SELECT count(*) FROM ev" 2>/dev/null || echo 0)
note "rows in the destination after the kill: $n"
[ "$n" -lt 1500 ] || fail "the kill at the 3rd write left all 1500 rows: the fault did not stop the run mid-way"
cursor_consistent ev "after kill@write#3"
killed_job_is_interrupted "kill@write#3"
run ferry sync src dw ev --batch-size 100 --json
assert_eq succeeded "$(jf "$OUT" '.status')" "the next run finishes"
same ev "after the run that followed kill@write#3"

# ---------------------------------------------------------------- killed with changes pending
note "kill@write#3 with updates and inserts pending"
qs src <<'SQL'
UPDATE ev SET v = v || ' v2', updated_at = timestamptz '2024-06-01 00:00+00' + id * interval '1 second'
  WHERE id % 3 = 0;
INSERT INTO ev SELECT i, 'new ' || i, timestamptz '2024-06-01 00:00+00' + i * interval '1 second'
  FROM generate_series(1501, 2000) i;
SQL
FERRY_FAULT=kill@write#3 expect_exit 137 ferry sync src dw ev --batch-size 100
cursor_consistent ev "after kill@write#3 with changes"
killed_job_is_interrupted "kill@write#3 with changes"
run ferry sync src dw ev --batch-size 100 --json
assert_eq succeeded "$(jf "$OUT" '.status')"
same ev "after the run that followed the second kill"
run ferry sync src dw ev --json
read -r r i u c d <<<"$(stream_counts "$OUT" ev)"
assert_eq "0 0" "$i $u" "a run after catching up finds nothing new"

note "other kill points during incremental: read, first write, stream_end"
for fault in kill@read#2 kill@write#1 kill@stream_end; do
	# Changes move the cursor column forward, past everything synced so far.
	q src "UPDATE ev SET v = v || '+', updated_at = (SELECT max(updated_at) FROM ev) + id * interval '1 ms'
	       WHERE id % 10 = 1" >/dev/null
	FERRY_FAULT=$fault expect_exit 137 ferry sync src dw ev --batch-size 100
	cursor_consistent ev "after $fault"
	killed_job_is_interrupted "$fault"
	run ferry sync src dw ev --batch-size 100
	same ev "after the run that followed $fault"
done

# ---------------------------------------------------------------- external kill -9
note "external kill -9 of an incremental sync (150k rows, --batch-size 1000)"
t0=$(date +%s%N)
ferry_bg "$T_DIR/probe" sync src dw big --batch-size 1000
wait_pid "$FERRY_PID"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq 0 "$RC" "a complete incremental run of big: $(cat "$T_DIR/probe.err")"
note "a complete first incremental run of 150k rows takes ${ms} ms"
same big "big after a complete run"
killed=0
for pct in 20 50 80 $((RANDOM % 70 + 10)); do
	# Fresh work each time: a destination without big, and changed source rows.
	q dst "DROP TABLE IF EXISTS big; DELETE FROM _ferry_state WHERE stream = 'big'" >/dev/null
	q src "UPDATE big SET payload = payload || '.', updated_at = (SELECT max(updated_at) FROM big) + id * interval '1 ms' WHERE id % 4 = $((pct % 4))" >/dev/null
	delay=$((ms * pct / 100))
	ferry_bg "$T_DIR/ext" sync src dw big --batch-size 1000
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 "$FERRY_PID" 2>/dev/null || true
	wait_pid "$FERRY_PID"
	_check_sanitizers "$T_DIR/ext.err" "external kill run"
	n=$(q dst "SELECT count(*) FROM big" 2>/dev/null || echo 0)
	note "killed after ${delay} ms (exit $RC): $n rows were in"
	if [ "$RC" = 137 ]; then
		killed=$((killed + 1))
		killed_job_is_interrupted "kill -9 after ${delay} ms"
	fi
	cursor_consistent big "kill -9 after ${delay} ms"
	run ferry sync src dw big --batch-size 1000 --json
	assert_eq succeeded "$(jf "$OUT" '.status')" "the run after kill -9 finishes"
	same big "after kill -9 at ${delay} ms and a new run"
done
[ "$killed" -gt 0 ] || fail "no run was actually killed mid-way"
pass
