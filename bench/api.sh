#!/usr/bin/env bash
# bench/api.sh - API-source benchmarks: ferry's Stripe connector against
# Stripe's own sync engines (npm) on a Stripe mock, and on static Stripe list
# pages served by nginx.
#
#   bash bench/run.sh api          # both benchmarks
#   bash bench/run.sh api-stripe   # 1. only
#   bash bench/run.sh api-nginx    # 2. only
#   bash bench/api.sh [stripe|nginx]   # the same as bash bench/run.sh api[-...]
#
# This file is sourced by bench/run.sh, which owns the throwaway PostgreSQL
# cluster, ferry's state store, the `dst` destination and the measurement
# (every timed run under /usr/bin/time, wall time, peak RSS and CPU of the
# client processes only, into a fresh `dst` database, checked afterwards,
# median of the runs). It adds:
#
# 1. stripe: stripe-stateful-mock (npm) on 127.0.0.1:BENCH_MOCK_PORT, seeded
#    with 10,000 customers (not timed). Contenders, interleaved run by run:
#      pager            bench/api/pager.cjs: GET /v1/customers?limit=100&
#                       starting_after=<last id> until has_more is false,
#                       records parsed and discarded (the anchor: the mock's
#                       own paging speed, one connection, no database)
#      ferry            ferry sync bench dst customers --full, source added with
#                       --type stripe --set base_url=http://127.0.0.1:P/v1 and
#                       --set requests_per_second=100000 (the rate limit lifted)
#      ferry-25rps      the same with the manifest's rate limit (25 requests/s)
#      replit-sync      stripe-replit-sync: syncBackfill({object: "customer"})
#      experiment-sync  stripe-experiment-sync: fullSync(["customer"]),
#                       segmentedSync off, rate limit lifted (100000/s)
#      experiment-25rps  the same at its CLI's default 25 requests/s
#    The engines' own schema migrations run before each of their runs, on the
#    fresh database, and are not timed (reported apart).
# 2. nginx: 100,000 Stripe-like customers (~520 bytes each) in 1,000 static
#    pages of 100, served by nginx on 127.0.0.1:BENCH_NGINX_PORT as
#    GET /v1/customers?limit=100&starting_after=<id> (bench/api/gen-pages.cjs
#    says how). Contenders:
#      curl     all 1,000 pages in sequence over one connection, to /dev/null
#               (the network floor)
#      pager    bench/api/pager.cjs, as above (network + JSON parse floor)
#      ferry    ferry sync static dst customers --full (rate limit lifted)
#      copy     psql \copy of the same 100,000 rows (exported from ferry's
#               table, not timed) into a pre-created table with ferry's column
#               types, then the primary key: the database's own speed
#
# Environment (besides bench/run.sh's BENCH_RUNS, BENCH_PORT, BENCH_DIR, FERRY):
#   BENCH_API_SLOW_RUNS=5   runs of the slow contenders (the sync engines and
#                           ferry-25rps); the others run BENCH_RUNS times
#   BENCH_MOCK_PORT         port of the Stripe mock (default BENCH_PORT + 1)
#   BENCH_NGINX_PORT        port of nginx (default BENCH_PORT + 2)
#
# Installs what is missing: nodejs, npm, nginx-light, curl (Debian) and the
# pinned npm packages of bench/api/package-lock.json into bench/api/node_modules.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exec bash "$(dirname "$0")/run.sh" "api${1:+-$1}"
fi

API_DIR=$REPO/bench/api
API_SLOW_RUNS=${BENCH_API_SLOW_RUNS:-5}
MOCK_PORT=${BENCH_MOCK_PORT:-$((PORT + 1))}
NGINX_PORT=${BENCH_NGINX_PORT:-$((PORT + 2))}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
# a made-up test key: the mock accepts any sk_test_ key; nothing real
export STRIPE_KEY=sk_test_ferrybench
STRIPE_CUSTOMERS=10000
STATIC_RECORDS=100000
MOCK_PID=
NGINX_PID=

# ---- tools -------------------------------------------------------------------------

api_tools() {
	local need=()
	command -v node >/dev/null || need+=(nodejs)
	command -v npm >/dev/null || need+=(npm)
	command -v curl >/dev/null || need+=(curl)
	[ -x "$NGINX" ] || need+=(nginx-light)
	if [ ${#need[@]} -gt 0 ]; then
		log "bench: installing ${need[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
	[ -x "$NGINX" ] || NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$NGINX" ] || die "nginx is missing (apt-get install nginx-light)"
	# npm ci once per lock file, as tests/peers/install.sh does
	local want stamp=$API_DIR/node_modules/.ferry-lock-sha256
	want=$(sha256sum "$API_DIR/package-lock.json" | cut -d' ' -f1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		log "bench: npm ci in bench/api (stripe-stateful-mock, stripe-replit-sync, stripe-experiment-sync)"
		(cd "$API_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in $API_DIR failed"
		echo "$want" >"$stamp"
	fi
	local p
	for p in stripe-stateful-mock stripe-replit-sync stripe-experiment-sync stripe; do
		log "bench: $p $(jq -r .version "$API_DIR/node_modules/$p/package.json")"
	done
	log "bench: node $(node --version), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(curl --version | head -n 1 | cut -d' ' -f1-2)"
}

port_free() { ! ss -ltn 2>/dev/null | grep -q "127.0.0.1:$1 "; }

api_stop_servers() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null || true
		wait "$MOCK_PID" 2>/dev/null || true
		MOCK_PID=
	fi
	if [ -n "$NGINX_PID" ]; then
		kill -QUIT "$NGINX_PID" 2>/dev/null || true
		wait "$NGINX_PID" 2>/dev/null || true
		NGINX_PID=
	fi
}

# ferry_stripe_source NAME BASE_URL [--set k=v...]: adds a stripe source; false
# (with the reason in $WORK/out/NAME.add) when this ferry has no stripe connector
ferry_stripe_source() {
	local name=$1 base=$2
	shift 2
	"$FERRY" source add "$name" --type stripe --set "api_key=$STRIPE_KEY" \
		--set "base_url=$base" "$@" >"$WORK/out/$name.add" 2>&1
}

# check_engine OUT: the engine's last stdout line must say {"synced": N}
check_engine() {
	local n
	n=$(tail -n 1 "$1" | jq -r '.synced' 2>/dev/null || echo "?")
	[ "$n" = "$NROWS" ] || die "the engine reported $n customers synced, expected $NROWS (see $1)"
}

# check_pager OUT: the pager must have read NROWS records
check_pager() {
	local n
	n=$(jq -r '.records' "$1" 2>/dev/null || echo "?")
	[ "$n" = "$NROWS" ] || die "the pager read $n records, expected $NROWS (see $1)"
}

# speedup BENCH A B TARGET: "A vs B: B's median time / A's median time"
speedup() {
	local a b
	a=$(median "$1" "$2")
	b=$(median "$1" "$3")
	[ "$a" != "-" ] && [ "$b" != "-" ] || return 0
	awk -v a="$a" -v b="$b" -v an="$2" -v bn="$3" -v t="${4:-}" 'BEGIN {
		printf "  %-12s vs %-22s %6.2fx %s  (%.3f s vs %.3f s)\n", an, bn, b / a,
			(b / a >= 1 ? "faster" : "slower"), a, b
		if (t != "") printf "      target %s: %s\n", t, (b / a >= t + 0 ? "met" : "NOT met")
	}'
}

# ---- 1. Stripe mock ---------------------------------------------------------------

start_mock() {
	port_free "$MOCK_PORT" || die "port $MOCK_PORT is in use; set BENCH_MOCK_PORT"
	(cd "$API_DIR" && exec node mock.cjs "$MOCK_PORT") >"$WORK/mock.out" 2>"$WORK/mock.err" &
	MOCK_PID=$!
	local i
	for i in $(seq 1 100); do
		grep -q '^ready' "$WORK/mock.out" 2>/dev/null && return 0
		kill -0 "$MOCK_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/mock.err" >&2
	die "the Stripe mock did not start on 127.0.0.1:$MOCK_PORT"
}

bench_api_stripe() {
	local i t0 t1 ferry_ok=1 base=http://127.0.0.1:$MOCK_PORT/v1
	NROWS=$STRIPE_CUSTOMERS
	start_mock
	log "bench: seeding the Stripe mock (127.0.0.1:$MOCK_PORT) with $NROWS customers"
	t0=$(date +%s%N)
	node "$API_DIR/seed.cjs" "$MOCK_PORT" "$NROWS" >"$WORK/out/seed" || die "seeding the mock failed"
	t1=$(date +%s%N)
	log "    seeded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
	# warm-up, not timed: the mock's JIT and list code, for everybody
	node "$API_DIR/pager.cjs" "$base" >"$WORK/out/stripe.warmup" || die "paging the mock failed"
	check_pager "$WORK/out/stripe.warmup"
	log "    one pass: $(cat "$WORK/out/stripe.warmup")"

	if ! ferry_stripe_source bench "$base" --set requests_per_second=100000 ||
		! ferry_stripe_source bench25 "$base"; then
		ferry_ok=0
		log "bench: ferry is NOT measured: 'ferry source add --type stripe' failed: $(head -n 3 "$WORK/out/bench.add" | tr '\n' ' ')"
	fi

	local mig_replit="node '$API_DIR/replit-sync.mjs' migrate '$URL/dst'"
	local mig_exp="node '$API_DIR/experiment-sync.mjs' migrate '$URL/dst' '$API_DIR/openapi-min.json'"
	log "bench: stripe, $RUNS runs (sync engines and ferry-25rps: $API_SLOW_RUNS)"
	for i in $(seq 1 "$RUNS"); do
		measure stripe pager "$i" "node '$API_DIR/pager.cjs' '$base'"
		check_pager "$LAST_OUT"

		if [ "$ferry_ok" = 1 ]; then
			fresh_db dst
			measure stripe ferry "$i" "'$FERRY' sync bench dst customers --full --backup-retention 0 --json"
			check_ferry_json "$LAST_OUT" full ".read == $NROWS and .inserted == $NROWS"
			check_count dst bench_customers
		fi
		[ "$i" -le "$API_SLOW_RUNS" ] || continue

		if [ "$ferry_ok" = 1 ]; then
			fresh_db dst
			measure stripe ferry-25rps "$i" "'$FERRY' sync bench25 dst customers --full --backup-retention 0 --json"
			check_ferry_json "$LAST_OUT" full ".read == $NROWS and .inserted == $NROWS"
			check_count dst bench25_customers
		fi

		fresh_db dst
		measure stripe-setup replit-sync-migrate "$i" "$mig_replit"
		measure stripe replit-sync "$i" "node '$API_DIR/replit-sync.mjs' sync '$URL/dst' $MOCK_PORT"
		check_engine "$LAST_OUT"
		check_count dst stripe.customers

		fresh_db dst
		measure stripe-setup experiment-sync-migrate "$i" "$mig_exp"
		measure stripe experiment-sync "$i" "node '$API_DIR/experiment-sync.mjs' sync '$URL/dst' $MOCK_PORT 100000"
		check_engine "$LAST_OUT"
		check_count dst stripe.customers

		fresh_db dst
		measure stripe-setup experiment-sync-migrate "$i.25" "$mig_exp"
		measure stripe experiment-25rps "$i" "node '$API_DIR/experiment-sync.mjs' sync '$URL/dst' $MOCK_PORT 25"
		check_engine "$LAST_OUT"
		check_count dst stripe.customers
	done
	api_stop_servers

	table stripe pager pager ferry ferry-25rps replit-sync experiment-sync experiment-25rps
	printf '\nnot timed: schema migrations of the engines before each run, median: replit-sync %s s, experiment-sync %s s\n' \
		"$(median stripe-setup replit-sync-migrate)" "$(median stripe-setup experiment-sync-migrate)"
	printf 'speed-ups (median wall time; targets from DESIGN.md §9):\n'
	speedup stripe ferry replit-sync 8
	speedup stripe ferry experiment-sync 8
	speedup stripe ferry experiment-25rps 8
	speedup stripe ferry-25rps experiment-25rps
	speedup stripe ferry pager
}

# ---- 2. static pages from nginx ---------------------------------------------------

start_nginx() {
	local d=$WORK/nginx user=
	port_free "$NGINX_PORT" || die "port $NGINX_PORT is in use; set BENCH_NGINX_PORT"
	mkdir -p "$d/tmp"
	# as root the master drops its workers to nobody; the pages are world-readable
	[ "$(id -u)" != 0 ] || user="user nobody nogroup;"
	cat >"$d/nginx.conf" <<EOF
# ferry bench: static Stripe list pages, 127.0.0.1 only, nothing outside $d
$user
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_requests 100000;
	keepalive_timeout 60s;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	# no starting_after: the first page; a customer id: the page after it
	map \$arg_starting_after \$stripe_page {
		"" first;
		"~^cus_[0-9]{6}\$" \$arg_starting_after;
		default invalid;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $WORK/www;
		location = /v1/customers {
			default_type application/json;
			try_files /pages/\$stripe_page.json =404;
		}
		location / { return 404; }
	}
}
EOF
	"$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -t >"$d/check.out" 2>&1 ||
		{ cat "$d/check.out" >&2; die "nginx rejected $d/nginx.conf"; }
	"$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d/out" 2>&1 &
	NGINX_PID=$!
	local i
	for i in $(seq 1 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/v1/customers?limit=100" && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$d/out" "$d/error.log" >&2 2>/dev/null
	die "nginx did not start on 127.0.0.1:$NGINX_PORT"
}

bench_api_nginx() {
	local i ferry_ok=1 base=http://127.0.0.1:$NGINX_PORT/v1 bytes cfg=$WORK/curl.cfg ddl cols
	NROWS=$STATIC_RECORDS
	log "bench: generating $NROWS records in 1000 static pages under $WORK/www/pages"
	node "$API_DIR/gen-pages.cjs" "$WORK/www/pages" "$NROWS" 100 >"$WORK/out/pages" || die "generating the pages failed"
	bytes=$(jq -r .bytes "$WORK/out/pages")
	log "    $(cat "$WORK/out/pages")"
	chmod -R a+rX "$WORK/www"
	start_nginx
	# curl's URL list, in paging order: the first page, then one per id
	{
		printf 'url = "%s/customers?limit=100"\noutput = "/dev/null"\n' "$base"
		find "$WORK/www/pages" -name 'cus_*.json' -printf '%f\n' | sort | sed 's/\.json$//' |
			awk -v b="$base" '{ printf "url = \"%s/customers?limit=100&starting_after=%s\"\noutput = \"/dev/null\"\n", b, $1 }'
	} >"$cfg"
	# warm-up, not timed: every page in the page cache
	curl -sS --fail -K "$cfg" >/dev/null || die "curl could not read the pages from nginx"

	if ! ferry_stripe_source static "$base" --set requests_per_second=100000; then
		ferry_ok=0
		log "bench: ferry is NOT measured: 'ferry source add --type stripe' failed: $(head -n 3 "$WORK/out/static.add" | tr '\n' ' ')"
	fi
	if [ "$ferry_ok" = 1 ]; then
		# the copy reference: ferry's table (one untimed run) as a COPY file,
		# and its column types without _ferry_synced_at
		fresh_db dst
		"$FERRY" sync static dst customers --full --backup-retention 0 --json >"$WORK/out/nginx.probe" ||
			die "ferry probe run failed: $(cat "$WORK/out/nginx.probe")"
		check_count dst static_customers
		ddl=$(sql dst "SELECT 'CREATE TABLE customers (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) || ')' FROM pg_attribute WHERE attrelid = 'static_customers'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> '_ferry_synced_at'")
		cols=$(sql dst "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'static_customers'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> '_ferry_synced_at'")
		sql dst "COPY (SELECT $cols FROM static_customers) TO STDOUT" >"$WORK/customers.copy"
		log "bench: ferry made: $(describe_table dst static_customers | paste -sd'|')"
		log "bench: copy reference: $(wc -c <"$WORK/customers.copy") bytes of COPY text"
	fi

	log "bench: nginx, $RUNS runs"
	for i in $(seq 1 "$RUNS"); do
		measure nginx curl "$i" "curl -sS --fail -K '$cfg'"
		measure nginx pager "$i" "node '$API_DIR/pager.cjs' '$base'"
		check_pager "$LAST_OUT"
		[ "$ferry_ok" = 1 ] || continue

		fresh_db dst
		measure nginx ferry "$i" "'$FERRY' sync static dst customers --full --backup-retention 0 --json"
		check_ferry_json "$LAST_OUT" full ".read == $NROWS and .inserted == $NROWS"
		check_count dst static_customers

		fresh_db dst
		sql dst "$ddl"
		measure nginx copy "$i" "${PSQL[*]} -d dst -c '\\copy customers FROM STDIN' <'$WORK/customers.copy' &&
			${PSQL[*]} -d dst -c 'ALTER TABLE customers ADD PRIMARY KEY (id)'"
		check_count dst customers
	done
	api_stop_servers

	table nginx curl curl pager ferry copy
	printf '\n%s bytes of JSON in %s pages; MB/s (10^6 bytes of page JSON per second, median):\n' "$bytes" 1000
	local who
	for who in curl pager ferry; do
		[ "$(median nginx "$who")" != "-" ] || continue
		awk -v w="$who" -v m="$(median nginx "$who")" -v b="$bytes" -v n="$NROWS" \
			'BEGIN { printf "  %-8s %7.1f MB/s %10.0f records/s\n", w, b / m / 1e6, n / m }'
	done
	if [ "$(median nginx ferry)" != "-" ]; then
		awk -v m="$(median nginx ferry)" -v n="$NROWS" 'BEGIN {
			printf "  target: ferry >= 200,000 records/s: %s\n", (n / m >= 200000 ? "met" : "NOT met") }'
	fi
}

bench_api() {
	api_tools
	trap 'api_stop_servers; stop_cluster' EXIT
	case "${1:-all}" in
	stripe) bench_api_stripe ;;
	nginx) bench_api_nginx ;;
	*)
		bench_api_stripe
		bench_api_nginx
		;;
	esac
}
