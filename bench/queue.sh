#!/usr/bin/env bash
# bench/queue.sh - time per scheduler tick of the due scan: one
# ferry_store_due call over a state store of 10,000 connections and 100,000
# finished jobs (bench/queue.c says what the store holds).
#
#   bash bench/queue.sh
#
# Environment (optional): CC=cc, BENCH_CFLAGS="-O2",
# BENCH_DIR=/tmp/ferry-bench-queue (scratch, removed at the end).
#
# Builds libferry with CMake (Release, no tests) under BENCH_DIR, links
# bench/queue.c against it, and prints the median, fastest and slowest of 101
# calls for each shape of the store. Issue 4's target: < 10 ms per tick.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
BENCH_CFLAGS=${BENCH_CFLAGS:--O2}
BENCH_DIR=${BENCH_DIR:-/tmp/ferry-bench-queue}

mkdir -p "$BENCH_DIR"
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$BENCH_DIR"' EXIT
cmake -S "$ROOT" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BENCH_DIR/build" --target libferry -j2 >/dev/null
# shellcheck disable=SC2046,SC2086
"$CC" -std=gnu11 $BENCH_CFLAGS -Wall -Wextra -Werror -I"$ROOT/include" -I"$ROOT/src" \
	"$ROOT/bench/queue.c" "$BENCH_DIR/build/libferry.a" \
	$(pkg-config --libs libpq sqlite3 libsodium jansson yaml-0.1 libcurl yajl libmicrohttpd) -lm \
	-o "$BENCH_DIR/queue_bench"
rm -f "$BENCH_DIR"/bench.db*
"$BENCH_DIR/queue_bench" "$BENCH_DIR/bench.db"
