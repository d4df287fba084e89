#!/usr/bin/env bash
# Every test, the way CI runs it (.ci/run):
#   1. scripts/setup.sh: install missing packages, build build/
#   2. scripts/setup.sh --sanitize: build build-asan/ (AddressSanitizer + UBSan)
#   3. tests/peers/install.sh: the API test peers (npm ci, once per lock file)
#   4. ctest in build-asan/, then in build/ (unit tests + integration tests
#      against a throwaway PostgreSQL and API peers on 127.0.0.1; each build
#      has its own)
# Exits non-zero if anything fails. The last line is the combined ctest summary.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

LOGDIR=$(mktemp -d /tmp/ferry-test.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT
total=0 failed=0 status=0

# summary LOG: add ctest's "N% tests passed, F tests failed out of T" to the totals.
summary() {
	local line f t
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		total=$((total + 1)) failed=$((failed + 1))
		return
	fi
	f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
	total=$((total + t)) failed=$((failed + f))
}

# suite NAME DIR [SETUP-ARGS]: build DIR, then run its tests.
suite() {
	local name=$1 dir=$2 rc=0
	shift 2
	echo "==== $name: build ($dir)"
	if ! bash scripts/setup.sh "$@"; then
		echo "==== $name: BUILD FAILED"
		total=$((total + 1)) failed=$((failed + 1)) status=1
		return
	fi
	# The API test peers: npm ci only when tests/peers/package-lock.json changed.
	if ! bash tests/peers/install.sh; then
		echo "==== $name: installing the API test peers failed (tests/peers/install.sh): the API tests will fail"
		status=1
	fi
	echo "==== $name: ctest"
	(cd "$dir" && ctest --output-on-failure --no-tests=error -j2) 2>&1 | tee "$LOGDIR/$name.log"
	rc=${PIPESTATUS[0]}
	summary "$LOGDIR/$name.log"
	if [ "$rc" != 0 ]; then
		status=1
		echo "==== $name: FAILED (ctest exit $rc)"
	fi
}

start=$(date +%s)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite sanitizers build-asan --sanitize
unset ASAN_OPTIONS UBSAN_OPTIONS
suite normal build

echo "==== both builds, $(($(date +%s) - start)) s"
if ((total > 0)); then
	pct=$(((total - failed) * 100 / total))
else
	pct=0 failed=1 status=1
fi
echo "$pct% tests passed, $failed tests failed out of $total"
exit "$status"
