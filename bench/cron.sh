#!/usr/bin/env bash
# bench/cron.sh - time per scheduler tick spent in cron next-run queries:
# 10,000 connections with varied schedules (bench/cron.c).
#
#   bash bench/cron.sh
#
# Environment (optional): CC=cc, BENCH_CFLAGS="-O2" (ferry's release flags),
# BENCH_DIR=/tmp/ferry-bench-cron (scratch, removed at the end).
#
# Compiles bench/cron.c with the schedule module and the two helpers it uses
# (no database, no network) and prints the median, fastest and slowest of 101
# rounds of 10,000 next() calls, and the time to parse 10,000 schedules.
# Issue 4's target for a whole due scan is < 10 ms per tick; this is the part
# of it that the schedule arithmetic costs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
BENCH_CFLAGS=${BENCH_CFLAGS:--O2}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench-cron}

mkdir -p "$BENCH_DIR"
trap 'rm -rf "$BENCH_DIR"' EXIT
# shellcheck disable=SC2086
"$CC" -std=gnu11 $BENCH_CFLAGS -Wall -Wextra -Werror -I"$ROOT/include" -I"$ROOT/src" \
	"$ROOT/bench/cron.c" "$ROOT/src/sched/cron.c" "$ROOT/src/util/err.c" "$ROOT/src/util/text.c" \
	-o "$BENCH_DIR/cron_bench"
"$BENCH_DIR/cron_bench"
