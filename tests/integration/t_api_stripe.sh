#!/usr/bin/env bash
# The built-in stripe connector against stripe-stateful-mock on 127.0.0.1:
# table names from the source name, --full with starting_after/has_more paging,
# field types, incremental, a second source, a rejected key (one request, clear
# message, nothing written), the key never shown.
. "$(dirname "$0")/lib.sh"

peer_start stripe
ST=$PEER_PORT
BASE=$(peer_url "$ST" /v1)
N=150
SEED=$(node "$PEER_HOME/stripe_seed.js" "$BASE" "$N" 3 5)
SKEY=sk_test_ferry_$RANDOM$RANDOM

# The stripe mock's request log: count and URLs since the last stripe_mark.
stripe_mark() { curl -sf -X POST "$(peer_url "$ST" /__ferry/requests/reset)" >/dev/null; }
stripe_log() { curl -sf "$(peer_url "$ST" /__ferry/requests)"; }

PG=$(newdb wh)
run ferry dest add wh --url "$PG"

run ferry source add "Italy Stripe Payments" --type stripe --set api_key="$SKEY" --set base_url="$BASE"
run ferry source show "Italy Stripe Payments"
assert_not_contains "$OUT$ERR" "$SKEY" "the API key is a secret: never shown"

# ---------------------------------------------------------------- full
note "--full: customers (2 pages of 100), products, plans, charges"
stripe_mark
run ferry sync "Italy Stripe Payments" wh customers products plans charges --full --json
R=$OUT
assert_not_contains "$OUT$ERR" "$SKEY" "the API key never appears in a report"
assert_eq succeeded "$(jf "$R" '.status')"
assert_eq t "$(pg_has_table wh public italy_stripe_payments_customers)" "table slug(\"Italy Stripe Payments\")_customers"
assert_eq "$N" "$(q wh 'SELECT count(*) FROM italy_stripe_payments_customers')" "exactly $N customers"
assert_eq "$N" "$(jf "$R" '.streams[] | select(.name == "customers") | .read')"
assert_eq "$(jf "$SEED" '.customers | sort | join(",")')" \
	"$(q wh 'SELECT string_agg(id, $$,$$ ORDER BY id COLLATE "C") FROM italy_stripe_payments_customers')" \
	"every seeded customer id arrived"
assert_eq "3 3 5" "$(q wh 'SELECT count(*) FROM italy_stripe_payments_products') $(q wh 'SELECT count(*) FROM italy_stripe_payments_plans') $(q wh 'SELECT count(*) FROM italy_stripe_payments_charges')" \
	"products, plans, charges"
LOG=$(stripe_log)
assert_eq 2 "$(jf "$LOG" '[.urls[] | select(startswith("GET /v1/customers"))] | length')" \
	"customers: 150 at limit 100 -> 2 requests (has_more false ends it)"
assert_match "$(jf "$LOG" '[.urls[] | select(startswith("GET /v1/customers"))][1]')" 'starting_after=cus_' \
	"the second page starts after the last id of the first"

note "values and column types"
assert_eq "customer7@example.com|customer 7|7|f" \
	"$(q wh "SELECT email, description, metadata->>'seq', livemode FROM italy_stripe_payments_customers WHERE metadata->>'seq' = '7'")" \
	"customer 7: text, jsonb metadata, boolean"
assert_eq 0 "$(q wh "SELECT count(*) FROM italy_stripe_payments_customers WHERE created < now() - interval '1 hour' OR created > now() + interval '1 minute'")" \
	"created (unix seconds) -> timestamptz of today"
for col in created:"timestamp with time zone" metadata:jsonb balance:bigint livemode:boolean email:text id:text; do
	assert_eq "${col#*:}" "$(pg_coltype wh italy_stripe_payments_customers "${col%%:*}")" "column ${col%%:*}"
done
assert_eq "" "$(pg_coltype wh italy_stripe_payments_customers object)" "field \"object\" dropped"
assert_eq id "$(pg_pkey wh italy_stripe_payments_customers)" "primary key id"
assert_eq "1001|eur" "$(q wh "SELECT amount, currency FROM italy_stripe_payments_charges WHERE description = 'charge 1'")"

# ---------------------------------------------------------------- incremental
note "incremental: new customers arrive, created[gte] sent from the cursor"
node "$PEER_HOME/stripe_seed.js" "$BASE" 20 >/dev/null
stripe_mark
run ferry sync "Italy Stripe Payments" wh customers --json
R=$OUT
assert_eq succeeded "$(jf "$R" '.status')"
read -r c_read c_ins c_upd c_unch c_del <<<"$(stream_counts "$R" customers)"
assert_eq "20 0" "$c_ins $c_upd" "20 new customers inserted, none updated"
assert_eq $((N + 20)) "$(q wh 'SELECT count(*) FROM italy_stripe_payments_customers')"
assert_match "$(jf "$(stripe_log)" '.urls[0]')" 'created(\[|%5[bB])gte(\]|%5[dD])=[0-9]{10}' \
	"the request asks from the stored cursor: created[gte]=<unix seconds>"

# ---------------------------------------------------------------- second source
note "a second source \"CH-Stripe-2024\" gets its own tables"
run ferry source add "CH-Stripe-2024" --type stripe --set api_key="$SKEY" --set base_url="$BASE"
run ferry sync "CH-Stripe-2024" wh customers --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq $((N + 20)) "$(q wh 'SELECT count(*) FROM ch_stripe_2024_customers')" "ch_stripe_2024_customers"

# ---------------------------------------------------------------- wrong key
note "a rejected key: exit 1, one request, a clear message, nothing written"
BAD=sk_live_wrong_$RANDOM$RANDOM
run ferry source add "Bad Stripe" --type stripe --set api_key="$BAD" --set base_url="$BASE"
S0=$(pg_sum wh italy_stripe_payments_customers 'id, _ferry_synced_at')
stripe_mark
expect_exit 1 ferry sync "Bad Stripe" wh customers --full
assert_error_msg
assert_contains "$ERR" "API key rejected by 127.0.0.1:$ST"
assert_not_contains "$OUT$ERR" "$BAD" "the rejected key is not echoed"
assert_eq 1 "$(jf "$(stripe_log)" '.requests')" "a 401 is not retried: exactly one request"
assert_eq f "$(pg_has_table wh public bad_stripe_customers)" "no table for the failed source"
assert_eq 0 "$(pg_staging_count wh)" "no staging table left"
assert_eq "$S0" "$(pg_sum wh italy_stripe_payments_customers 'id, _ferry_synced_at')" "other tables untouched"

pass
