#!/usr/bin/env bash
# The built-in smartlead connector against tests/fixtures/smartlead_server.js
# (3 campaigns, 120 leads, 245 statistics rows = 240 keys + 4 exact duplicates
# + 1 collision), into PostgreSQL and SQLite: --full (exact rows, values,
# column types; child streams with campaign_id; activities keyed by
# _ferry_key, duplicates and collisions reported), incremental after
# /__admin/mutate (no cursor: everything read, only changes written), --full
# counting deletions, --reset, --dry-run, --namespace, a rejected key (one
# request, nothing written, the key never shown although it travels in the
# query string), 500s and 429s retried, --since refused on streams without a
# cursor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vendor_lib.sh"

SKEY=smartlead_key_$RANDOM$RANDOM
vendor_setup smartlead_server.js /api/v1 --key "$SKEY"
SRC="Smartlead Outreach"
T=smartlead_outreach
CAMPAIGNS="3000001 3000002 3000003"

# The fixture's own view of its data, as lines the tables can give too:
#   SNAP_C  campaigns       id:name
#   SNAP_L  leads           campaign_lead_map_id:campaign_id:status
#   SNAP_K  activity keys   campaign_id:lead_email:sequence_number:stats_id
#   SNAP_A  the same + :open_count:replied, for keys served with one content
#   COLLIDED  the stats_ids of keys served with different contents
snapshot() {
	local c stats=""
	SNAP_C=$(jf "$(fx_get "/api/v1/campaigns/?api_key=$SKEY")" '.[] | "\(.id):\(.name)"' | sorted)
	SNAP_L=$(for c in $CAMPAIGNS; do
		jf "$(fx_get "/api/v1/campaigns/$c/leads?api_key=$SKEY&limit=100")" ".data[] | \"\(.campaign_lead_map_id):$c:\(.status)\""
	done | sorted)
	for c in $CAMPAIGNS; do
		stats+=$(jf "$(fx_get "/api/v1/campaigns/$c/statistics?api_key=$SKEY&limit=1000")" \
			".data[] | {k: \"$c:\(.lead_email):\(.sequence_number):\(.stats_id)\", v: \"\(.open_count):\(.reply_time != null)\", row: .}")
		stats+=$'\n'
	done
	SNAP_K=$(jq -r -s 'group_by(.k)[] | .[0].k' <<<"$stats" | sorted)
	SNAP_A=$(jq -r -s 'group_by(.k)[] | select(map(.row) | unique | length == 1) | "\(.[0].k):\(.[0].v)"' <<<"$stats" | sorted)
	COLLIDED=$(jq -r -s '[group_by(.k)[] | select(map(.row) | unique | length > 1) | .[0].row.stats_id] | join("'"','"'")' <<<"$stats")
	DS=$(jf "$(fx_get /__admin/stats)" .dataset)
}
# same_as_api DEST [NS]: the tables hold exactly what the API serves, one row per key.
same_as_api() {
	local d=$1 ns=${2:-} replied
	replied="CASE WHEN reply_time IS NULL THEN 'false' ELSE 'true' END"
	assert_eq "$SNAP_C" "$(dq "$d" "SELECT id || ':' || name FROM $(rel "$d" ${T}_campaigns "$ns")" | sorted)" \
		"$d: campaigns as the API lists them"
	assert_eq "$SNAP_L" "$(dq "$d" "SELECT campaign_lead_map_id || ':' || campaign_id || ':' || status
	                                FROM $(rel "$d" ${T}_leads "$ns")" | sorted)" \
		"$d: every campaign's leads, with the parent's id in campaign_id"
	assert_eq "$SNAP_K" "$(dq "$d" "SELECT campaign_id || ':' || lead_email || ':' || sequence_number || ':' || stats_id
	                                FROM $(rel "$d" ${T}_activities "$ns")" | sorted)" \
		"$d: one activity row per key"
	assert_eq "$SNAP_A" "$(dq "$d" "SELECT campaign_id || ':' || lead_email || ':' || sequence_number || ':' || stats_id
	                                || ':' || open_count || ':' || $replied
	                                FROM $(rel "$d" ${T}_activities "$ns") WHERE stats_id NOT IN ('$COLLIDED')" | sorted)" \
		"$d: activity values as served"
}

run ferry source add "$SRC" --type smartlead --set api_key="$SKEY" --set base_url="$API" --set requests_per_second=1000
snapshot
assert_eq "3 120 245 240 4 1" "$(jf "$DS" '"\(.campaigns) \(.leads) \(.statistics_rows) \(.statistics_keys) \(.duplicates) \(.collisions)"')" \
	"the fixture serves its documented dataset"
assert_eq 240 "$(wc -l <<<"$SNAP_K")"
[ -n "$COLLIDED" ] || fail "the fixture's collision is missing"

# ---------------------------------------------------------------- full
for d in pg lite; do
	note "$d: --full of every stream"
	run ferry sync "$SRC" "$d" --full --json --backup-retention 0
	R=$OUT
	assert_not_contains "$OUT$ERR" "$SKEY" "the API key (a query parameter) never appears in a report"
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" campaigns "3 3 0 0 0" "$d: campaigns"
	expect_stream "$R" leads "120 120 0 0 0" "$d: leads"
	expect_stream "$R" activities "- 240 0 0 0" "$d: activities: 240 keys"
	assert_eq "0 0|0 0|4 1" "$(jf "$R" '.streams | map("\(.duplicates) \(.collisions)") | join("|")')" \
		"$d: duplicates and collisions per stream (campaigns|leads|activities) as the fixture documents"
	for s in campaigns leads activities; do
		assert_eq "${T}_$s" "$(jf "$R" ".streams[] | select(.name == \"$s\") | .table")"
	done
	assert_eq "3 120 240" "$(nrows "$d" ${T}_campaigns) $(nrows "$d" ${T}_leads) $(nrows "$d" ${T}_activities)" \
		"$d: exact rows per table"
	same_as_api "$d"

	note "$d: keys, parent columns, values, column types"
	assert_eq "id campaign_lead_map_id _ferry_key" \
		"$(pkey "$d" ${T}_campaigns) $(pkey "$d" ${T}_leads) $(pkey "$d" ${T}_activities)" "$d: primary keys"
	assert_eq 240 "$(dq "$d" "SELECT count(DISTINCT _ferry_key) FROM ${T}_activities WHERE length(_ferry_key) = 64
	                          AND lower(_ferry_key) = _ferry_key")" "$d: _ferry_key is a SHA-256 in hex"
	assert_eq "3000001:40 3000002:40 3000003:40" \
		"$(lines dq "$d" "SELECT campaign_id || ':' || count(*) FROM ${T}_leads GROUP BY campaign_id ORDER BY campaign_id")" \
		"$d: leads per campaign_id"
	assert_eq "3000001:80 3000002:80 3000003:80" \
		"$(lines dq "$d" "SELECT campaign_id || ':' || count(*) FROM ${T}_activities GROUP BY campaign_id ORDER BY campaign_id")" \
		"$d: activities per campaign_id (duplicates skipped)"
	assert_eq "2000000001|3000001|INPROGRESS|ada.lovelace.0@prospect0.example|CEO|2024-01-01T03:00:00" \
		"$(dq "$d" "SELECT campaign_lead_map_id || '|' || campaign_id || '|' || status || '|' || $(jget "$d" lead email)
		            || '|' || $(jget "$d" lead custom_fields.job_title)
		            || '|' || $(utc "$d" created_at) FROM ${T}_leads WHERE campaign_lead_map_id = 2000000001")" \
		"$d: lead 0: the lead object as JSON, created_at"
	assert_eq 30 "$(dq "$d" "SELECT count(*) FROM ${T}_leads WHERE status = 'COMPLETED'")"
	assert_eq "2024-01-04T03:00:00|2024-01-04T05:00:00|2024-01-04T08:00:00|1|Re: Quick question, Ada" \
		"$(dq "$d" "SELECT $(utc "$d" sent_time) || '|' || $(utc "$d" open_time) || '|' || $(utc "$d" reply_time)
		            || '|' || open_count || '|' || email_subject
		            FROM ${T}_activities WHERE lead_email = 'ada.lovelace.0@prospect0.example' AND sequence_number = 2")" \
		"$d: lead 0's second email: sent, opened 2 and replied 5 hours later"
	assert_eq "10|115|9" \
		"$(dq "$d" "SELECT sum(CASE WHEN is_bounced THEN 1 ELSE 0 END) || '|' || count(open_time) || '|' || count(reply_time)
		            FROM ${T}_activities")" "$d: bounced, opened, replied"
	assert_eq "Fixture campaign 3|PAUSED|Europe/Rome" \
		"$(dq "$d" "SELECT name || '|' || status || '|' || $(jget "$d" scheduler_cron_value tz) FROM ${T}_campaigns WHERE id = 3000003")"
	for ct in campaigns.id:bigint campaigns.created_at:"timestamp with time zone" campaigns.scheduler_cron_value:jsonb \
		campaigns.track_settings:jsonb campaigns.send_as_plain_text:boolean \
		leads.campaign_lead_map_id:bigint leads.campaign_id:bigint leads.lead:jsonb \
		leads.created_at:"timestamp with time zone" leads.status:text \
		activities._ferry_key:text activities.campaign_id:bigint activities.sent_time:"timestamp with time zone" \
		activities.open_time:"timestamp with time zone" activities.reply_time:"timestamp with time zone" \
		activities.open_count:bigint activities.sequence_number:bigint activities.is_bounced:boolean \
		activities.stats_id:text; do
		tc=${ct%%:*}
		assert_eq "${ct#*:}" "$(coltype "$d" "${T}_${tc%%.*}" "${tc#*.}")" "$d: column ${T}_${tc%%.*}.${tc#*.}"
	done
	assert_eq "" "$(coltype "$d" ${T}_leads lead_category_id)" "$d: a field that is always null gets no column (yet)"
	assert_eq 0 "$(state_rows "$d")" "$d: no stream has a cursor: no state"
done

# ---------------------------------------------------------------- incremental
note "incremental after /__admin/mutate: no cursor, so everything is read; only changes are written"
M=$(fx_post /__admin/mutate '{"updates": 5, "adds": 3}')
snapshot
CHANGED=$(jf "$M" '.changed.statistics | unique | length')
assert_eq "5 3" "$(jf "$M" '"\(.changed.leads | length) \(.added.leads | length)"')"
for d in pg lite; do
	declare -A n0=()
	for c in $CAMPAIGNS; do n0[$c]=$(fx_count "/api/v1/campaigns/$c/statistics"); done
	run ferry sync "$SRC" "$d" --json
	R=$OUT
	assert_eq "succeeded incremental" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" campaigns "3 0 1 2 0" "$d: campaign 1 renamed"
	expect_stream "$R" leads "123 3 5 115 0" "$d: 5 leads changed status, 3 new"
	expect_stream "$R" activities "- 3 $CHANGED $((240 - CHANGED)) 0" "$d: opened/replied emails updated in place, 3 new"
	assert_eq "4 1" "$(jf "$R" '.streams[] | select(.name == "activities") | "\(.duplicates) \(.collisions)"')" \
		"$d: the same duplicates and collision seen again"
	for c in $CAMPAIGNS; do
		assert_eq $((n0[$c] + 1)) "$(fx_count "/api/v1/campaigns/$c/statistics")" "$d: campaign $c's statistics read once"
	done
	same_as_api "$d"
	assert_eq "Fixture campaign 1 (edit 1)" "$(dq "$d" "SELECT name FROM ${T}_campaigns WHERE id = 3000001")"
	assert_eq bigint "$(coltype "$d" ${T}_leads lead_category_id)" "$d: lead_category_id, now set, adds a column"
	assert_eq "$(jf "$M" '.changed.leads[]' | sorted)" \
		"$(dq "$d" "SELECT campaign_lead_map_id FROM ${T}_leads WHERE lead_category_id IS NOT NULL" | sorted)" \
		"$d: the 5 changed leads carry their category"
	assert_eq 123 "$(nrows "$d" ${T}_leads)"
	assert_eq 0 "$(state_rows "$d")" "$d: still no cursor stored"
done

# ---------------------------------------------------------------- deletions
note "--full after /__admin/delete: deletions counted, rows gone"
KEYS0=$(jf "$DS" .statistics_keys)
DEL=$(fx_post /__admin/delete '{"count": 3}')
snapshot
DEL_KEYS=$((KEYS0 - $(jf "$DS" .statistics_keys)))
[ "$DEL_KEYS" -ge 3 ] || fail "3 deleted leads should take at least 3 statistics keys with them, took $DEL_KEYS"
for d in pg lite; do
	full_deleted "$d" "campaigns=0 leads=3 activities=$DEL_KEYS"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_leads WHERE campaign_lead_map_id IN ($(jf "$DEL" '.removed.leads | join(",")'))")" \
		"$d: the deleted leads are gone"
	same_as_api "$d"
done

# ---------------------------------------------------------------- reset
note "--reset: drops the tables, then syncs full"
for d in pg lite; do
	dq "$d" "INSERT INTO ${T}_leads (campaign_lead_map_id, campaign_id, status, _ferry_synced_at)
	         VALUES (1, 3000001, 'only here', '2024-01-01T00:00:00Z')" >/dev/null
	dq "$d" "DELETE FROM ${T}_activities WHERE campaign_id = 3000002" >/dev/null
	run ferry sync "$SRC" "$d" --reset --json --backup-retention 0
	assert_eq "succeeded full" "$(jf "$OUT" '"\(.status) \(.mode)"')" "$d: --reset runs a full sync"
	assert_eq "0 0 0" "$(jf "$OUT" '.streams | map(.deleted) | join(" ")')" "$d: a reset starts from nothing: nothing to count as deleted"
	same_as_api "$d"
done
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- dry run
note "--dry-run: nothing written"
fx_post /__admin/mutate '{"updates": 3, "adds": 2}' >/dev/null
dry_run_untouched ${T}_activities
dry_run_empty ${T}_activities

# ---------------------------------------------------------------- namespace
note "--namespace sales: PostgreSQL schema sales, SQLite prefix sales__"
snapshot
for d in pg lite; do
	P0=$(dq "$d" "SELECT * FROM ${T}_leads" | sorted | md5sum)
	run ferry sync "$SRC" "$d" --namespace sales --json
	assert_eq succeeded "$(jf "$OUT" .status)"
	expect_stream "$OUT" leads "$(jf "$DS" .leads) $(jf "$DS" .leads) 0 0 0" "$d: leads into the new namespace"
	for s in campaigns leads activities; do
		assert_eq t "$(has_table "$d" "${T}_$s" sales)" "$d: $(rel "$d" "${T}_$s" sales)"
		assert_eq "${T}_$s" "$(jf "$OUT" ".streams[] | select(.name == \"$s\") | .table")"
	done
	same_as_api "$d" sales
	assert_eq "$P0" "$(dq "$d" "SELECT * FROM ${T}_leads" | sorted | md5sum)" "$d: the tables outside the namespace untouched"
done
assert_eq f "$(has_table pg sales__${T}_leads)" "PostgreSQL uses a schema, not a prefix"

# ---------------------------------------------------------------- wrong key
note "a rejected key (sent as ?api_key=): exit 1, one request, nothing written, never shown"
wrong_key "Bad Smartlead" smartlead campaigns /api/v1/campaigns/ bad_smartlead_campaigns

# ---------------------------------------------------------------- retries
note "500, 500, then 200 (and 429, 429 with Retry-After): retried, the sync succeeds"
retried pg activities /api/v1/campaigns/3000002/statistics 500 "" ${T}_activities "$(jf "$DS" .statistics_keys)"
retried lite activities /api/v1/campaigns/3000002/statistics 429 1 ${T}_activities "$(jf "$DS" .statistics_keys)"

# ---------------------------------------------------------------- backfill refused
note "--since on a stream without a cursor: refused, with advice that works for an API source"
for d in pg lite; do
	TB0=$(user_tables "$d")
	expect_exit 2 ferry sync "$SRC" "$d" activities --since 2024-01-01T00:00:00Z
	assert_error_msg
	assert_contains "$ERR" "activities" "the message names the stream"
	assert_eq "$TB0" "$(user_tables "$d")" "$d: nothing created or dropped"
done
# The advice must be something that works: no API source takes cursor.STREAM settings.
expect_exit 2 ferry source set "$SRC" --set cursor.activities=sent_time
assert_contains "$ERR" 'unknown setting "cursor.activities"'
expect_exit 2 ferry sync "$SRC" pg activities --since 2024-01-01T00:00:00Z
assert_not_contains "$ERR" "cursor.activities=COLUMN" \
	"the advice for an API source must not be a setting that \`ferry source set\` rejects for it"

pass
