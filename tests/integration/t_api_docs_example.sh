#!/usr/bin/env bash
# The docs' worked example works as written: the acme.yaml of docs/manifest.md
# ("## A worked example: the Acme API"), taken from the page at test time, against
# tests/fixtures/acme_server.js (the Acme API as the page describes it).
# --type rest --set manifest=FILE into PostgreSQL: exact rows of customers,
# invoices and invoice_lines, column types, no `links`, the requests the page
# promises (sort, status=all, offset/limit, meta.total ends the paging, bearer
# token, region header, one lines request per invoice); incremental after
# /__admin/mutate sends updated_since=<stored cursor> and writes only the
# changed and new rows; the same manifest as --type acme through
# FERRY_MANIFEST_PATH into SQLite; a wrong token (exit 1) and a missing one
# (exit 2).
. "$(dirname "$0")/lib.sh"

DOC=$FERRY_SRC/docs/manifest.md
MDIR=$T_DIR/manifests
mkdir -p "$MDIR"
M=$MDIR/acme.yaml

# ---------------------------------------------------------------- the manifest
# The first ```yaml block after the heading, before the next "## " heading.
awk '/^## A worked example: the Acme API[[:space:]]*$/ { h = 1; next }
     h && !y && /^## / { exit }
     h && !y && /^```yaml[[:space:]]*$/ { y = 1; next }
     y && /^```/ { done = 1; exit }
     y { print }
     END { exit done ? 0 : 1 }' "$DOC" >"$M" ||
	fail "docs/manifest.md: no complete \`\`\`yaml block after \"## A worked example: the Acme API\""
assert_match "$(cat "$M")" '^type: acme$' "the docs' example declares type: acme"

N_CUS=200 # two full pages: meta.total, not an empty third page, ends the paging
N_INV=40  # one page; 1 + (i mod 4) lines each: 100 lines
N_LINES=100
peer_start "$FERRY_SRC/tests/fixtures/acme_server.js" --customers "$N_CUS" --invoices "$N_INV"
API=$(peer_url "$PEER_PORT")
BASE=$API/v2
HOSTPORT=127.0.0.1:$PEER_PORT
TOKEN=tok_123

stats() { curl -sf "$API/__admin/stats" || fail "acme fixture: /__admin/stats failed"; }
mutate() { curl -sf -X POST -d "$1" "$API/__admin/mutate" || fail "acme fixture: mutate failed"; }
# The requests logged since the last mark, as JSON lines {method, path, query, region, accept, status}.
MARK=0
log_mark() { MARK=$(jf "$(stats)" '.total'); }
log_new() {
	local s n
	s=$(stats)
	n=$(($(jf "$s" '.total') - MARK))
	[ "$n" -gt 0 ] || return 0
	jf "$s" ".log[-$n:][] | @json"
}
# urldecode TEXT; qparam QUERY NAME: the decoded value of NAME in QUERY ("" if absent)
urldecode() {
	local s=${1//+/ }
	printf '%b' "${s//%/\\x}"
}
qparam() {
	local kv
	local IFS='&'
	for kv in $1; do
		if [ "$(urldecode "${kv%%=*}")" = "$2" ]; then
			urldecode "${kv#*=}"
			return 0
		fi
	done
}
# Every record of a list endpoint, as the API has it (all pages).
api_all() {
	local off=0 page n sep='?'
	[[ $1 != *\?* ]] || sep='&'
	while :; do
		page=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'X-Acme-Region: eu' \
			"$BASE$1${sep}offset=$off&limit=100") || fail "acme fixture: GET $1 failed"
		n=$(jf "$page" '.data | length')
		[ "$n" -gt 0 ] || break
		jf "$page" '.data[] | @json'
		off=$((off + n))
	done
}
count_lines() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi; }

# The API's data and a table's, in one text form each, to compare exactly.
API_CUS='"\(.id)|\(.name)|\(.plan)|\(.balance)|\(.updated_at)"'
PG_CUS="id || '|' || name || '|' || plan || '|' || balance || '|' ||
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') ||
        CASE WHEN extract(milliseconds FROM updated_at)::int % 1000 <> 0
             THEN to_char(updated_at AT TIME ZONE 'UTC', '.MS') ELSE '' END || 'Z'"
API_INV='"\(.id)|\(.status)|\(.amount_due)|\(.due_date)|\(.metadata | to_entries | sort_by(.key) | map("\(.key)=\(.value)") | join(","))"'
PG_INV="id || '|' || status || '|' || amount_due || '|' || due_date || '|' ||
        coalesce((SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE \"C\") FROM jsonb_each_text(metadata)), '')"
src_customers() { api_all /customers | jq -r "$API_CUS" | LC_ALL=C sort; }
src_invoices() { api_all '/invoices?status=all' | jq -r "$API_INV" | LC_ALL=C sort; }
src_lines() { # invoice_id|position|amount of every invoice's lines
	local id
	for id in $(api_all '/invoices?status=all' | jq -r '.id'); do
		curl -sf -H "Authorization: Bearer $TOKEN" -H 'X-Acme-Region: eu' "$BASE/invoices/$id/lines" |
			jq -r --arg id "$id" '.data[] | "\($id)|\(.position)|\(.amount)"'
	done | LC_ALL=C sort
}
pg_rows() { q pg "SELECT $2 FROM $1" | LC_ALL=C sort; }

PG=$(newdb pg)
run ferry dest add pg --url "$PG"

# ---------------------------------------------------------------- (a) full into PostgreSQL
note "ferry source add acme --type rest --set manifest=acme.yaml (the docs' command)"
run ferry source add acme --type rest --set manifest="$M" --set token="$TOKEN" --set base_url="$BASE"
run ferry source show acme
assert_not_contains "$OUT$ERR" "$TOKEN" "token is a secret setting: never shown"

note "--full: customers, invoices, invoice_lines"
log_mark
t0=$(date +%s%N)
run ferry sync acme pg --full --json
t1=$(date +%s%N)
R=$OUT
REQS=$(log_new)
assert_eq succeeded "$(jf "$R" '.status')"
assert_not_contains "$OUT$ERR" "$TOKEN" "the token never appears in a report"
assert_eq "$N_CUS" "$(q pg 'SELECT count(*) FROM acme_customers')" "table acme_customers: every customer"
assert_eq "$N_INV" "$(q pg 'SELECT count(*) FROM acme_invoices')" \
	"table acme_invoices: every invoice (status=all; without it only the open ones)"
assert_eq "$N_LINES" "$(q pg 'SELECT count(*) FROM acme_invoice_lines')" "table acme_invoice_lines: every line"
for s in customers:$N_CUS invoices:$N_INV invoice_lines:$N_LINES; do
	assert_eq "${s#*:}" "$(jf "$R" ".streams[] | select(.name == \"${s%%:*}\") | .read")" "${s%%:*}: records read"
done
assert_eq "$(src_customers)" "$(pg_rows acme_customers "$PG_CUS")" "acme_customers equals the API (id, name, plan, balance, updated_at)"
assert_eq "$(src_invoices)" "$(pg_rows acme_invoices "$PG_INV")" "acme_invoices equals the API (id, status, amount_due, due_date, metadata)"
assert_eq "$(src_lines)" "$(pg_rows acme_invoice_lines "invoice_id || '|' || position || '|' || amount")" \
	"acme_invoice_lines equals the API's lines, each with its invoice_id"

note "column types as the docs say"
for t in acme_customers acme_invoices; do
	for col in created_at:"timestamp with time zone" updated_at:"timestamp with time zone" metadata:jsonb \
		id:text _ferry_synced_at:"timestamp with time zone"; do
		assert_eq "${col#*:}" "$(pg_coltype pg "$t" "${col%%:*}")" "$t.${col%%:*}"
	done
	assert_eq id "$(pg_pkey pg "$t")" "$t: primary key id"
done
for col in amount_due:bigint amount_paid:bigint due_date:date status:text; do
	assert_eq "${col#*:}" "$(pg_coltype pg acme_invoices "${col%%:*}")" "acme_invoices.${col%%:*}"
done
for col in invoice_id:text position:bigint amount:bigint period:jsonb; do
	assert_eq "${col#*:}" "$(pg_coltype pg acme_invoice_lines "${col%%:*}")" "acme_invoice_lines.${col%%:*}"
done
assert_eq "invoice_id,position" "$(pg_pkey pg acme_invoice_lines)" "acme_invoice_lines: primary key [invoice_id, position]"
for t in acme_customers acme_invoices acme_invoice_lines; do
	assert_eq "" "$(pg_coltype pg "$t" links)" "$t: no links column (drop: [links])"
done
assert_eq "3000000000|2024-01-31|usd|PO-4000" \
	"$(q pg "SELECT amount_due, due_date, currency, metadata->>'po_number' FROM acme_invoices WHERE id = 'in_1'")" \
	"in_1: amount_due over 2^31 kept, due_date a date, metadata jsonb"
assert_eq "2024-05-01 00:00:00.25+00|2024-01-01 00:00:00+00|t" \
	"$(q pg "SET TIME ZONE 'UTC'; SELECT updated_at, created_at, tax_exempt FROM acme_customers WHERE id = 'cus_0001'" | tail -n 1)" \
	"cus_0001: RFC 3339 with milliseconds -> timestamptz, boolean"

note "the requests the docs describe"
CUS_Q=$(jf "$REQS" 'select(.path == "/v2/customers") | .query' 2>/dev/null || true)
assert_eq 2 "$(count_lines "$CUS_Q")" \
	"customers: 200 records at limit 100 -> exactly 2 requests (meta.total ends it; requests: $CUS_Q)"
assert_eq "updated_at|100|0" "$(q0=$(sed -n 1p <<<"$CUS_Q"); echo "$(qparam "$q0" sort)|$(qparam "$q0" limit)|$(qparam "$q0" offset)")" \
	"customers: first request sort=updated_at&limit=100&offset=0"
assert_eq "100" "$(qparam "$(sed -n 2p <<<"$CUS_Q")" offset)" "customers: the next request has offset=100"
assert_not_contains "$CUS_Q" "updated_since" "--full sends no updated_since"
INV_Q=$(jf "$REQS" 'select(.path == "/v2/invoices") | .query')
assert_match "$INV_Q" '(^|&)status=all(&|$)' "invoices: status=all"
assert_eq "$N_INV" "$(count_lines "$(jf "$REQS" 'select(.path | test("^/v2/invoices/in_[0-9]+/lines$")) | .path' | sort -u)")" \
	"invoice_lines: one request for every invoice"
assert_eq "$(count_lines "$REQS")" "$(jf "$REQS" 'select(.region == "eu" and .accept == "application/json" and .status == 200) | .path' | wc -l)" \
	"every request carried X-Acme-Region: eu (the default), Accept: application/json and the bearer token (no 401s)"
nreq=$(count_lines "$REQS")
# rate_limit: 10/s, burst 20: N requests take at least (N - 20) / 10 s
min_ms=$(((nreq - 20) * 100 * 9 / 10))
[ $(((t1 - t0) / 1000000)) -ge "$min_ms" ] ||
	fail "rate_limit {requests_per_second: 10, burst: 20}: $nreq requests took $(((t1 - t0) / 1000000)) ms, expected at least $min_ms"

# ---------------------------------------------------------------- (b) incremental
note "incremental after /__admin/mutate: updated_since=<stored cursor>, only changed and new rows"
cursor() { q pg "SELECT cursor FROM public._ferry_state WHERE stream = '$1'"; }
CUR_CUS=$(cursor customers)
CUR_INV=$(cursor invoices)
assert_eq "$(api_all /customers | jq -r '.updated_at' | LC_ALL=C sort | tail -n 1)" "$CUR_CUS" \
	"customers: the stored cursor is the newest updated_at"
assert_eq "$(api_all '/invoices?status=all' | jq -r '.updated_at' | LC_ALL=C sort | tail -n 1)" "$CUR_INV" \
	"invoices: the stored cursor is the newest updated_at"
MUT=$(mutate '{"updates": 3, "adds": 2}')
log_mark
run ferry sync acme pg --json
R=$OUT
REQS=$(log_new)
assert_eq succeeded "$(jf "$R" '.status')"
for s in customers:$CUR_CUS invoices:$CUR_INV; do
	q1=$(jf "$REQS" "select(.path == \"/v2/${s%%:*}\") | .query" | sed -n 1p)
	assert_eq "${s#*:}" "$(qparam "$q1" updated_since)" \
		"${s%%:*}: the request carries updated_since=<stored cursor> (query: $q1)"
done
read -r c_read c_ins c_upd _ <<<"$(stream_counts "$R" customers)"
assert_eq "2 3" "$c_ins $c_upd" "customers: 2 new inserted, 3 changed updated ($(stream_counts "$R" customers))"
[ "$c_read" -le 6 ] || fail "customers: expected the 5 changed (+ the one at the inclusive cursor), read $c_read"
read -r i_read i_ins i_upd _ <<<"$(stream_counts "$R" invoices)"
assert_eq "2 3" "$i_ins $i_upd" "invoices: 2 new inserted, 3 changed updated ($(stream_counts "$R" invoices))"
[ "$i_read" -le 6 ] || fail "invoices: expected the 5 changed (+ the one at the inclusive cursor), read $i_read"
read -r _ l_ins l_upd _ <<<"$(stream_counts "$R" invoice_lines)"
assert_eq "$(jf "$MUT" '.lines_added') 0" "$l_ins $l_upd" \
	"invoice_lines: the new lines inserted (1 per changed invoice, 2 per new one), none updated"
assert_eq "$(src_customers)" "$(pg_rows acme_customers "$PG_CUS")" "acme_customers equals the API after incremental"
assert_eq "$(src_invoices)" "$(pg_rows acme_invoices "$PG_INV")" "acme_invoices equals the API after incremental"
assert_eq "$(src_lines)" "$(pg_rows acme_invoice_lines "invoice_id || '|' || position || '|' || amount")" \
	"acme_invoice_lines equals the API after incremental"
assert_eq "$(jf "$MUT" '[.updated.customers[], .added.customers[]] | sort | join(",")')" \
	"$(q pg "SELECT string_agg(id, ',' ORDER BY id) FROM acme_customers WHERE updated_at >= '2025-01-01'")" \
	"the changed and added customers carry the new updated_at"
NEW_CUS=$(cursor customers)
assert_eq "$(api_all /customers | jq -r '.updated_at' | LC_ALL=C sort | tail -n 1)" "$NEW_CUS" "customers: cursor moved to the newest updated_at"

note "incremental with nothing new: nothing written"
run ferry sync acme pg customers invoices --json
for s in customers invoices; do
	read -r _ x_ins x_upd _ <<<"$(stream_counts "$OUT" $s)"
	assert_eq "0 0" "$x_ins $x_upd" "$s: nothing changed, nothing written"
done

# ---------------------------------------------------------------- (c) FERRY_MANIFEST_PATH
note "FERRY_MANIFEST_PATH=dir: --type acme into SQLite, region us"
LITE=$T_DIR/acme.db
run ferry dest add lite --url "sqlite://$LITE"
export FERRY_MANIFEST_PATH=$MDIR
run ferry source add acme2 --type acme --set token="$TOKEN" --set base_url="$BASE" --set region=us
log_mark
run ferry sync acme2 lite --full --json
R=$OUT
assert_eq us "$(jf "$(log_new)" '.region' | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"--set region=us: every request carried X-Acme-Region: us"
assert_eq succeeded "$(jf "$R" '.status')"
n_cus=$(jf "$(stats)" '.dataset.customers')
n_inv=$(jf "$(stats)" '.dataset.invoices')
n_lin=$(jf "$(stats)" '.dataset.invoice_lines')
assert_eq "$n_cus $n_inv $n_lin" \
	"$(sq "$LITE" 'SELECT (SELECT count(*) FROM acme2_customers), (SELECT count(*) FROM acme2_invoices), (SELECT count(*) FROM acme2_invoice_lines)' | tr '|' ' ')" \
	"SQLite: acme2_customers, acme2_invoices, acme2_invoice_lines hold every record"
for t in acme2_customers acme2_invoices acme2_invoice_lines; do
	assert_eq 0 "$(sq "$LITE" "SELECT count(*) FROM pragma_table_info('$t') WHERE name = 'links'")" "SQLite $t: no links column"
done
assert_eq "invoice_id,position" "$(sq "$LITE" "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('acme2_invoice_lines') WHERE pk > 0 ORDER BY pk)")" \
	"SQLite acme2_invoice_lines: primary key [invoice_id, position]"
assert_eq "3000000000|integer|2024-01-31|PO-4000" \
	"$(sq "$LITE" "SELECT amount_due, typeof(amount_due), due_date, json_extract(metadata, '\$.po_number') FROM acme2_invoices WHERE id = 'in_1'")" \
	"SQLite in_1: amount_due an integer, due_date, metadata as JSON"
assert_eq "$(src_lines | cut -d'|' -f1,2)" "$(sq "$LITE" "SELECT invoice_id || '|' || position FROM acme2_invoice_lines" | LC_ALL=C sort)" \
	"SQLite: every line with its invoice_id"
MUT=$(mutate '{"updates": 2, "adds": 1}')
log_mark
run ferry sync acme2 lite --json
R=$OUT
REQS=$(log_new)
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq "1 2" "$(stream_counts "$R" customers | cut -d' ' -f2,3)" "SQLite incremental customers: 1 inserted, 2 updated"
assert_eq "1 2" "$(stream_counts "$R" invoices | cut -d' ' -f2,3)" "SQLite incremental invoices: 1 inserted, 2 updated"
assert_eq "$(jf "$MUT" '.lines_added') 0" "$(stream_counts "$R" invoice_lines | cut -d' ' -f2,3)" "SQLite incremental invoice_lines"
assert_eq "$NEW_CUS" "$(qparam "$(jf "$REQS" 'select(.path == "/v2/customers") | .query' | sed -n 1p)" updated_since)" \
	"SQLite: customers asked from its own stored cursor"
assert_eq "$((n_cus + 1)) $((n_inv + 1))" \
	"$(sq "$LITE" 'SELECT (SELECT count(*) FROM acme2_customers), (SELECT count(*) FROM acme2_invoices)' | tr '|' ' ')"
unset FERRY_MANIFEST_PATH

# ---------------------------------------------------------------- (d) errors
note "a wrong token: exit 1, API key rejected by 127.0.0.1:PORT, nothing written"
run ferry source add acme_bad --type rest --set manifest="$M" --set token=tok_wrong_456 --set base_url="$BASE"
log_mark
expect_exit 1 ferry sync acme_bad pg
assert_error_msg
assert_contains "$ERR" "API key rejected by $HOSTPORT" "the message names the API's host"
assert_not_contains "$OUT$ERR" "tok_wrong_456" "the wrong token is not shown either"
assert_eq 0 "$(q pg "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'acme\\_bad%'")" "no table written"
n401=$(jf "$(log_new)" 'select(.status == 401) | .path' | wc -l)
if [ "$n401" -lt 1 ] || [ "$n401" -gt 3 ]; then
	fail "a 401 is not retried (max_attempts 5): expected one request per stream started, got $n401"
fi

note "no token: exit 2 naming the setting"
expect_exit 2 ferry source add acme_none --type rest --set manifest="$M" --set base_url="$BASE"
assert_error_msg
assert_contains "$ERR" "token" "the message names the missing setting"
FERRY_MANIFEST_PATH=$MDIR expect_exit 2 ferry source add acme_none --type acme --set base_url="$BASE"
assert_contains "$ERR" "token" "the same for --type acme"
expect_fail ferry source show acme_none

pass
