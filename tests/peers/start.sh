#!/usr/bin/env bash
# start.sh - runs one API test peer on 127.0.0.1:PORT, in the foreground.
#
#   start.sh NAME PORT [ARGS...]
#
#   json-server PORT DB.json      json-server 0.17.4 (REST: _page/_limit + Link,
#                                 _start/_end/_limit, X-Total-Count, FIELD_gte, _sort;
#                                 POST/PATCH/DELETE write DB.json back)
#   graphql PORT DATA.json        json-graphql-server at / (allUsers(page, perPage,
#                                 filter), _allUsersMeta { count }; tests/peers/graphql.js;
#                                 GET /__ferry/requests lists the variables it got)
#   stripe PORT                   stripe-stateful-mock at /v1 (tests/peers/stripe.js;
#                                 GET /__ferry/requests counts requests)
#   wiremock PORT [ROOT-DIR]      WireMock standalone; stubs from ROOT-DIR/mappings
#                                 (default tests/integration/wiremock), admin API /__admin
#   relay PORT [OPTIONS]          tests/fixtures/relay_server.js (Relay cursors, bearer auth)
#   FILE.js PORT [ARGS]           any fixture server: node FILE.js PORT ARGS
#
# Every peer listens on 127.0.0.1 only. tests/integration/lib.sh's peer_start
# runs this in the background; by hand it runs until Ctrl-C. When
# FERRY_PEER_OWNER holds a pid, the peer also stops within a second of that
# process going away, so a test killed with SIGKILL leaves nothing behind.
# The packages come from `bash tests/peers/install.sh`.
set -euo pipefail

PEERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$PEERS/../.." && pwd)
NM=$PEERS/node_modules

if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
name=$1 port=$2
shift 2

if [[ $name != *.js ]] && [ ! -d "$NM" ]; then
	echo "start.sh: $NM is missing: run 'bash tests/peers/install.sh' first" >&2
	exit 1
fi

case "$name" in
json-server)
	[ $# -ge 1 ] || { echo "start.sh: json-server needs a db.json" >&2; exit 2; }
	cmd=(node "$NM/json-server/lib/cli/bin.js" --host 127.0.0.1 --port "$port" "$@")
	;;
graphql)
	[ $# -eq 1 ] || { echo "start.sh: graphql needs one data.json" >&2; exit 2; }
	cmd=(node "$PEERS/graphql.js" "$port" "$1")
	;;
stripe)
	cmd=(node "$PEERS/stripe.js" "$port")
	;;
wiremock)
	jar=$(ls "$NM"/wiremock/build/wiremock-standalone-*.jar 2>/dev/null | head -n 1)
	[ -n "$jar" ] || { echo "start.sh: no WireMock jar under $NM/wiremock/build" >&2; exit 1; }
	command -v java >/dev/null || { echo "start.sh: WireMock needs java (apt-get install default-jre-headless)" >&2; exit 1; }
	root=${1:-$SRC/tests/integration/wiremock}
	shift $(($# > 0 ? 1 : 0))
	# A small heap and the C1 compiler only: starts in about a second.
	cmd=(java -Xmx256m -XX:TieredStopAtLevel=1 -jar "$jar" --bind-address 127.0.0.1
		--port "$port" --disable-banner --root-dir "$root" "$@")
	;;
relay)
	cmd=(node "$SRC/tests/fixtures/relay_server.js" "$port" "$@")
	;;
*.js)
	cmd=(node "$name" "$port" "$@")
	;;
*)
	echo "start.sh: unknown peer \"$name\" (json-server, graphql, stripe, wiremock, relay or FILE.js)" >&2
	exit 2
	;;
esac

owner=${FERRY_PEER_OWNER:-}
if [ -z "$owner" ]; then
	exec "${cmd[@]}"
fi

"${cmd[@]}" &
child=$!
stop() {
	kill -TERM "$child" 2>/dev/null || true
	wait "$child" 2>/dev/null || true
	exit 0
}
trap stop TERM INT HUP
while kill -0 "$child" 2>/dev/null; do
	kill -0 "$owner" 2>/dev/null || stop
	sleep 1 &
	wait $! || true
done
rc=0
wait "$child" || rc=$?
exit "$rc"
