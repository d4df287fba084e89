#!/usr/bin/env bash
# bench/http.sh - throughput and latency of the HTTP API: wrk against
# GET /api/v1/jobs/{id} (token check + one job read from the state store +
# JSON) on a `ferry serve --threads 2` over loopback, with GET /health (no
# token, one COUNT over the queue index) measured the same way in the same
# run as the anchor.
#
#   bash bench/http.sh
#
# Environment (all optional):
#   BENCH_DURATION=10s     wrk's -d per measurement
#   BENCH_CONNS=32         wrk's -c (open connections)
#   BENCH_THREADS=2        wrk's -t
#   BENCH_SERVE_THREADS=2  ferry serve --threads
#   BENCH_JOBS=5000        finished jobs in the store (3 streams each)
#   BENCH_RUNS=3           measurements per route (the median is reported)
#   BENCH_DIR=/tmp/ferry-bench-http   scratch (removed at the end; BENCH_KEEP=1 keeps it)
#   FERRY=path/to/ferry    the binary to measure (default: a Release build under BENCH_DIR)
#
# Issue 4's target: >= 20,000 requests/s and p99 < 5 ms on 2 cores. wrk runs
# on the same 2 cores as the server, as a client on the same machine would.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-32}
WRK_THREADS=${BENCH_THREADS:-2}
SERVE_THREADS=${BENCH_SERVE_THREADS:-2}
NJOBS=${BENCH_JOBS:-5000}
RUNS=${BENCH_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench-http}

log() { printf '%s\n' "$*" >&2; }
die() {
	log "bench: FAILED: $*"
	exit 1
}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
	log "bench: installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -e "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.ferry-bench" ]; then
	die "$BENCH_DIR exists and was not made by this script; set BENCH_DIR"
fi
mkdir -p "$BENCH_DIR"
touch "$BENCH_DIR/.ferry-bench"
SERVE_PID=
cleanup() {
	if [ -n "$SERVE_PID" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

if [ -z "${FERRY:-}" ]; then
	log "bench: building ferry (Release) in $BENCH_DIR/build"
	cmake -S "$ROOT" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$BENCH_DIR/build" --target ferry -j2 >/dev/null
	FERRY=$BENCH_DIR/build/ferry
fi
FERRY=$(readlink -f "$FERRY")

# ---- the store: a token and NJOBS finished jobs of 3 streams each ---------------------

export FERRY_DATABASE_URL=$BENCH_DIR/ferry.db
rm -f "$FERRY_DATABASE_URL"*
TOKEN=$("$FERRY" token create bench 2>/dev/null)
log "bench: $NJOBS jobs in $FERRY_DATABASE_URL"
sqlite3 -batch -bail "$FERRY_DATABASE_URL" <<EOF >/dev/null
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $NJOBS)
INSERT INTO jobs (id, source_id, source_name, dest_id, dest_name, mode, status, attempt,
  created_at, started_at, finished_at, duration_ms, max_attempts, run_after, request, progress)
SELECT i, 'src_0123456789ab', 'stripe-eu', 'dst_0123456789ab', 'warehouse', 'incremental',
  'succeeded', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z',
  '2026-01-01T00:01:00.000Z', 59000, 3, 1767225600,
  '{"source":"stripe-eu","destination":"warehouse","streams":["customers","invoices","charges"]}',
  '{"stage":"done","percentage":100.0,"eta_seconds":null,"rows_per_second":1694.9,"elapsed_ms":59000,'
  || '"streams":[{"name":"customers","read":40000,"written":40000,"total_estimate":40000},'
  || '{"name":"invoices","read":35000,"written":35000,"total_estimate":35000},'
  || '{"name":"charges","read":25000,"written":25000,"total_estimate":25000}]}'
FROM n;
INSERT INTO job_streams (job_id, stream, dest_table, status, rows_read, inserted, updated,
  unchanged, deleted, total_estimate, bytes)
SELECT id, s.name, 'stripe_eu_' || s.name, 'done', s.n, s.n, 0, 0, 0, s.n, s.n * 900
FROM jobs, (SELECT 'customers' AS name, 40000 AS n UNION ALL SELECT 'invoices', 35000
            UNION ALL SELECT 'charges', 25000) AS s;
COMMIT;
EOF
JOB=$((NJOBS / 2))

# ---- the server -------------------------------------------------------------------------

SERVE_ARGS=(--threads "$SERVE_THREADS")
if "$FERRY" serve --help | grep -q -- '--workers'; then
	SERVE_ARGS+=(--workers 0) # the API alone: no scheduler or workers polling the store
fi
PORT=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 12000))
	if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
		PORT=$p
		break
	fi
done
[ -n "$PORT" ] || die "no free port"
"$FERRY" serve --listen "127.0.0.1:$PORT" "${SERVE_ARGS[@]}" >"$BENCH_DIR/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break
	kill -0 "$SERVE_PID" 2>/dev/null || die "ferry serve died: $(cat "$BENCH_DIR/serve.log")"
	sleep 0.1
done
URL=http://127.0.0.1:$PORT
AUTH="Authorization: Bearer $TOKEN"
BODY=$(curl -sf -H "$AUTH" "$URL/api/v1/jobs/$JOB") || die "GET /api/v1/jobs/$JOB failed"
[ "$(jq -r '.id' <<<"$BODY")" = "$JOB" ] || die "GET /api/v1/jobs/$JOB answered $BODY"
log "bench: GET /api/v1/jobs/$JOB answers ${#BODY} bytes of JSON"

# ---- measurement -----------------------------------------------------------------------

RESULTS=$BENCH_DIR/results.tsv # route, run, requests/s, p99 ms, non-2xx, errors
: >"$RESULTS"

# to_ms "1.23ms" | "850.00us" | "1.02s" -> milliseconds
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "nan" }'
}

# Every request another job, picked at random among the NJOBS.
cat >"$BENCH_DIR/random.lua" <<EOF
math.randomseed(42)
request = function()
	return wrk.format(nil, "/api/v1/jobs/" .. math.random(1, $NJOBS))
end
EOF

# measure NAME RUN PATH [HEADER [WRK ARGS...]]
measure() {
	local name=$1 run=$2 path=$3 out rps p99 non2xx errs
	out=$BENCH_DIR/wrk.$name.$run
	if [ -n "${4:-}" ]; then
		wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$4" "${@:5}" "$URL$path" >"$out"
	else
		wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$URL$path" >"$out"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	errs=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i += 2) s += $(i + 1); print s }' "$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$rps" "$p99" "${non2xx:-0}" "${errs:-0}" >>"$RESULTS"
	log "  $name run $run: $rps requests/s, p99 $p99 ms${non2xx:+, $non2xx non-2xx}${errs:+, socket errors $errs}"
	[ -z "$non2xx" ] || die "$name: $non2xx answers were not 2xx (see $out)"
}

median() { # median NAME FIELD (3: requests/s, 4: p99 ms)
	awk -F'\t' -v n="$1" -v f="$2" '$1 == n { print $f }' "$RESULTS" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

log "bench: warm-up"
wrk -t1 -c4 -d2s -H "$AUTH" "$URL/api/v1/jobs/$JOB" >/dev/null
log "bench: wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency, $RUNS runs per route, interleaved"
for i in $(seq 1 "$RUNS"); do
	measure job "$i" "/api/v1/jobs/$JOB" "$AUTH"
	measure random "$i" /api/v1/jobs/1 "$AUTH" -s "$BENCH_DIR/random.lua"
	measure health "$i" /health
done

JOB_RPS=$(median job 3)
JOB_P99=$(median job 4)
R_RPS=$(median random 3)
R_P99=$(median random 4)
H_RPS=$(median health 3)
H_P99=$(median health 4)
printf '\n== HTTP API: ferry serve --threads %s, wrk -t%s -c%s -d%s on 127.0.0.1, %s jobs in the store, %d cores (load average after: %s) ==\n' \
	"$SERVE_THREADS" "$WRK_THREADS" "$CONNS" "$DURATION" "$NJOBS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %9s %12s  %s\n' route requests_s p99_ms vs_health all_runs_rps
awk -v j="$JOB_RPS" -v jp="$JOB_P99" -v h="$H_RPS" -v hp="$H_P99" -v r="$R_RPS" -v rp="$R_P99" \
	-v ja="$(awk -F'\t' '$1 == "job" { printf "%s ", $3 }' "$RESULTS")" \
	-v ra="$(awk -F'\t' '$1 == "random" { printf "%s ", $3 }' "$RESULTS")" \
	-v ha="$(awk -F'\t' '$1 == "health" { printf "%s ", $3 }' "$RESULTS")" 'BEGIN {
	printf "%-28s %12.0f %9.2f %11.2fx  %s\n", "GET /api/v1/jobs/{id}", j, jp, j / h, ja
	printf "%-28s %12.0f %9.2f %11.2fx  %s\n", "  same, a random id each", r, rp, r / h, ra
	printf "%-28s %12.0f %9.2f %11.2fx  %s\n", "GET /health (anchor)", h, hp, 1, ha
	printf "\ntarget: >= 20000 requests/s: %.2fx of it; p99 < 5 ms: %.2f ms (%s)\n", j / 20000, jp,
		(j >= 20000 && jp < 5) ? "met" : "NOT met" }'
