#!/usr/bin/env bash
# Schema evolution in the PostgreSQL destination (DESIGN.md §3): runs the
# tests/unit/test_pg_dest_evolve program against this cluster. The program
# drives the destination's ops table directly, the way the engine does when
# an API source's batches bring new or wider columns; on its own (ctest's
# unit.test_pg_dest_evolve, no server) it skips.
. "$(dirname "$0")/lib.sh"

PROG=$(dirname "$FERRY_BIN")/tests/test_pg_dest_evolve
[ -x "$PROG" ] || fail "$PROG not built (cmake --build the tree first)"
URL=$(newdb dst)
run env FERRY_TEST_PG_URL="$URL" "$PROG"
assert_contains "$OUT$ERR" "[  PASSED  ] 2 test(s)."
pass
