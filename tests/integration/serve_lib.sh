# serve_lib.sh - helpers for tests of `ferry serve`, sourced after lib.sh:
# a daemon on a free port ($PORT, $BASE), killed when the test exits, and
# curl wrappers that keep the status and body of the last request.
# TOKEN (when set) is not sent automatically: pass -H "Authorization: Bearer $TOKEN".

SERVE_PID=
stop_serve() {
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -KILL "$SERVE_PID" 2>/dev/null || true
	fi
}
trap stop_serve EXIT

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

# http METHOD PATH [CURL ARGS...]: HCODE is the status, HBODY the body.
http() {
	local m=$1 p=$2
	shift 2
	HCODE=$(curl -sS -o "$T_DIR/.body" -w '%{http_code}' -X "$m" "$@" "$BASE$p") || HCODE=000
	HBODY=$(cat "$T_DIR/.body" 2>/dev/null || true)
}
# expect_http CODE ERROR_CODE METHOD PATH [CURL ARGS...]: an error answer of that shape.
expect_http() {
	local want=$1 code=$2
	shift 2
	http "$@"
	assert_eq "$want" "$HCODE" "$1 $2: status (body: $HBODY)"
	if [ -n "$code" ]; then
		assert_eq "$code" "$(jf "$HBODY" '.error.code')" "$1 $2: error code"
		[ -n "$(jf "$HBODY" '.error.message // empty')" ] || fail "$1 $2: no error message in $HBODY"
	fi
}
# start_serve [SERVE ARGS...]: ferry serve on $PORT (stdout/stderr in $T_DIR/serve.{out,err}),
# waits until /health answers.
start_serve() {
	ferry_bg "$T_DIR/serve" serve --listen "127.0.0.1:$PORT" "$@"
	SERVE_PID=$FERRY_PID
	for _ in $(seq 1 100); do
		if curl -s -o /dev/null "$BASE/health" 2>/dev/null; then
			return 0
		fi
		kill -0 "$SERVE_PID" 2>/dev/null || fail "ferry serve died: $(cat "$T_DIR/serve.err")"
		sleep 0.1
	done
	fail "ferry serve did not answer /health within 10 s: $(cat "$T_DIR/serve.err")"
}
