#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the integration tests.
#
#   pg_cluster.sh start   initdb + start on 127.0.0.1 and a free port (54329 up);
#                         writes $FERRY_TEST_ROOT/pg.env (PGPORT=..., PGHOST, PGUSER)
#   pg_cluster.sh stop    stop (immediate) and delete the cluster
#
# ctest runs `start` once as fixture setup and `stop` as cleanup. The data
# directory lives in /tmp/ferry-it-<hash of FERRY_TEST_ROOT>/ so that the
# postgres user can reach it whatever the permissions of the build tree, and so
# that two builds (normal and ASan) running at once never share a cluster.
#
# Users: `postgres` (trust on 127.0.0.1) and `ferry` / `ferrypw` (SCRAM), the
# latter for tests that need a password (wrong password, secrets).
set -euo pipefail

: "${FERRY_TEST_ROOT:?FERRY_TEST_ROOT must be set (ctest sets it to <build>/it)}"
mkdir -p "$FERRY_TEST_ROOT"
FERRY_TEST_ROOT=$(cd "$FERRY_TEST_ROOT" && pwd)

hash=$(printf '%s' "$FERRY_TEST_ROOT" | md5sum | cut -c1-12)
BASE=/tmp/ferry-it-$hash
PGDATA_DIR=$BASE/data
LOG=$BASE/postgres.log
ENVFILE=$FERRY_TEST_ROOT/pg.env

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	elif command -v initdb >/dev/null; then
		dirname "$(command -v initdb)"
	else
		echo "pg_cluster.sh: PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/setup.sh" >&2
		exit 1
	fi
}
BIN=$(pg_bindir)

# postgres refuses to run as root: run server commands as the postgres user then.
# (from /, a directory every user can enter: pg_ctl wants to know its cwd)
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

port_busy() {
	local port=$1
	if command -v ss >/dev/null; then
		[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
	fi
	pg_isready -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1
	# pg_isready: 0 accepting, 1 rejecting, 2 no response, 3 no attempt
	local rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 1 ]
}

stop_cluster() {
	if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
	fi
	rm -rf "$BASE"
	rm -f "$ENVFILE"
}

start_cluster() {
	# A cluster left by an aborted run with the same root: throw it away.
	stop_cluster
	mkdir -p "$BASE"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$BASE"; fi
	chmod 700 "$BASE"

	as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=trust >"$BASE/initdb.log" 2>&1 ||
		as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C \
			--auth-local=trust --auth-host=trust >"$BASE/initdb.log" 2>&1 || {
		cat "$BASE/initdb.log" >&2
		exit 1
	}

	as_pg tee "$PGDATA_DIR/pg_hba.conf" >/dev/null <<'HBA'
# ferry integration tests: loopback only
local all all                   trust
host  all postgres 127.0.0.1/32 trust
host  all all      127.0.0.1/32 scram-sha-256
HBA

	local port=54329 tries=0
	while :; do
		while port_busy "$port"; do port=$((port + 1)); done
		as_pg tee "$PGDATA_DIR/postgresql.auto.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PGDATA_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
password_encryption = 'scram-sha-256'
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
CONF
		if as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG" -w -t 60 start >/dev/null 2>&1; then
			break
		fi
		# Somebody took the port between the check and the start: try the next.
		tries=$((tries + 1))
		if ((tries >= 20)); then
			echo "pg_cluster.sh: could not start PostgreSQL; log:" >&2
			cat "$LOG" >&2 || true
			exit 1
		fi
		port=$((port + 1))
	done

	psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE ferry LOGIN SUPERUSER PASSWORD 'ferrypw';
SQL

	cat >"$ENVFILE" <<ENV
PGPORT=$port
PGHOST=127.0.0.1
PGUSER=postgres
FERRY_PG_DATA=$PGDATA_DIR
FERRY_PG_LOG=$LOG
ENV
	echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $PGDATA_DIR"
}

case "${1:-}" in
start) start_cluster ;;
stop) stop_cluster ;;
*)
	echo "usage: pg_cluster.sh start|stop" >&2
	exit 2
	;;
esac
