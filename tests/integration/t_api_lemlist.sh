#!/usr/bin/env bash
# The built-in lemlist connector against tests/fixtures/lemlist_server.js (3
# campaigns, 90 leads, 155 activity rows = 151 keys + 3 exact duplicates + 1
# collision), into PostgreSQL and SQLite: --full (exact rows, values, column
# types; leads per campaign with campaign_id; activities keyed by _ferry_key,
# duplicates and collisions reported; the createdAt cursor stored),
# incremental after /__admin/mutate (minDate from the cursor), --since/--until
# (minDate/maxDate; the cursor stays), --full counting deletions, --reset,
# --dry-run, --namespace, a rejected key (one request, nothing written, never
# shown), 500s and 429s retried.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vendor_lib.sh"

LKEY=lemlist_key_$RANDOM$RANDOM
vendor_setup lemlist_server.js /api --key "$LKEY"
SRC="Lemlist Paris"
T=lemlist_paris

# ll_activities [QUERY]: every activity row the API serves (offset/limit 100
# pages until a short one), one JSON object per line.
ll_activities() {
	local off=0 page n
	while :; do
		page=$(fx_get "/api/activities?version=v2&access_token=$LKEY&limit=100&offset=$off${1:+&$1}")
		jf "$page" '.[] | tojson'
		n=$(jf "$page" length)
		[ "$n" -eq 100 ] || break
		off=$((off + 100))
	done
}
# Activity rows -> "campaignId:type:leadEmail:_id" keys (KEYS_JQ) and, for keys
# served with one content only, the key + ":sequenceStep:sendUserName" (VALS_JQ).
KEYS_JQ='group_by([.campaignId, .type, .leadEmail, ._id, .createdAt])[] | .[0] | "\(.campaignId):\(.type):\(.leadEmail):\(._id)"'
VALS_JQ='group_by([.campaignId, .type, .leadEmail, ._id, .createdAt])[] | select(unique | length == 1) | .[0]
         | "\(.campaignId):\(.type):\(.leadEmail):\(._id):\(.sequenceStep):\(.sendUserName)"'
KEY_SQL="\"campaignId\" || ':' || type || ':' || \"leadEmail\" || ':' || _id"
VAL_SQL="$KEY_SQL || ':' || \"sequenceStep\" || ':' || \"sendUserName\""

# The fixture's own view of its data (SNAP_C campaigns "_id:name", SNAP_L leads
# "_id:campaign:lastState:status", SNAP_K / SNAP_A activities as above,
# COLLIDED the _ids of keys served with different contents, DS its counts).
snapshot() {
	local c acts
	SNAP_C=$(jf "$(fx_get "/api/campaigns?version=v2&access_token=$LKEY&limit=100")" '.campaigns[] | "\(._id):\(.name)"' | sorted)
	CIDS=$(cut -d: -f1 <<<"$SNAP_C")
	SNAP_L=$(for c in $CIDS; do
		jf "$(fx_get "/api/campaigns/$c/export/leads?state=all&format=json&access_token=$LKEY")" \
			".[] | \"\(._id):$c:\(.lastState):\(.status)\""
	done | sorted)
	acts=$(ll_activities)
	SNAP_K=$(jq -r -s "$KEYS_JQ" <<<"$acts" | sorted)
	SNAP_A=$(jq -r -s "$VALS_JQ" <<<"$acts" | sorted)
	COLLIDED=$(jq -r -s '[group_by([.campaignId, .type, .leadEmail, ._id, .createdAt])[] | select(unique | length > 1) | .[0]._id] | join("'"','"'")' <<<"$acts")
	NEWEST=$(jq -r -s 'map(.createdAt) | max' <<<"$acts")
	DS=$(jf "$(fx_get /__admin/stats)" .dataset)
}
# same_as_api DEST [NS]: the tables hold exactly what the API serves, one row per key.
same_as_api() {
	local d=$1 ns=${2:-}
	assert_eq "$SNAP_C" "$(dq "$d" "SELECT _id || ':' || name FROM $(rel "$d" ${T}_campaigns "$ns")" | sorted)" \
		"$d: campaigns as the API lists them"
	assert_eq "$SNAP_L" "$(dq "$d" "SELECT _id || ':' || campaign_id || ':' || \"lastState\" || ':' || status
	                                FROM $(rel "$d" ${T}_leads "$ns")" | sorted)" \
		"$d: every campaign's leads, with the parent's _id in campaign_id"
	assert_eq "$SNAP_K" "$(dq "$d" "SELECT $KEY_SQL FROM $(rel "$d" ${T}_activities "$ns")" | sorted)" \
		"$d: one activity row per key"
	assert_eq "$SNAP_A" "$(dq "$d" "SELECT $VAL_SQL FROM $(rel "$d" ${T}_activities "$ns") WHERE _id NOT IN ('$COLLIDED')" | sorted)" \
		"$d: activity values as served"
}

run ferry source add "$SRC" --type lemlist --set api_key="$LKEY" --set base_url="$API" --set requests_per_second=1000
snapshot
assert_eq "3 90 155 151 3 1" "$(jf "$DS" '"\(.campaigns) \(.leads) \(.activity_rows) \(.activity_keys) \(.duplicates) \(.collisions)"')" \
	"the fixture serves its documented dataset"
assert_eq "151 1" "$(wc -l <<<"$SNAP_K") $(wc -w <<<"${COLLIDED//,/ }")"

# ---------------------------------------------------------------- full
for d in pg lite; do
	note "$d: --full of every stream"
	act0=$(fx_count /api/activities)
	run ferry sync "$SRC" "$d" --full --json --backup-retention 0
	R=$OUT
	assert_not_contains "$OUT$ERR" "$LKEY" "the API key (a query parameter) never appears in a report"
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" campaigns "3 3 0 0 0" "$d: campaigns"
	expect_stream "$R" leads "90 90 0 0 0" "$d: leads"
	expect_stream "$R" activities "- 151 0 0 0" "$d: activities: 151 keys"
	assert_eq "0 0|0 0|3 1" "$(jf "$R" '.streams | map("\(.duplicates) \(.collisions)") | join("|")')" \
		"$d: duplicates and collisions per stream (campaigns|leads|activities) as the fixture documents"
	assert_eq $((act0 + 2)) "$(fx_count /api/activities)" "$d: 155 activity rows: two pages of 100"
	for s in campaigns leads activities; do
		assert_eq "${T}_$s" "$(jf "$R" ".streams[] | select(.name == \"$s\") | .table")"
	done
	assert_eq "3 90 151" "$(nrows "$d" ${T}_campaigns) $(nrows "$d" ${T}_leads) $(nrows "$d" ${T}_activities)" \
		"$d: exact rows per table"
	same_as_api "$d"

	note "$d: keys, parent columns, values, column types, cursor"
	assert_eq "_id _id _ferry_key" "$(pkey "$d" ${T}_campaigns) $(pkey "$d" ${T}_leads) $(pkey "$d" ${T}_activities)" \
		"$d: primary keys"
	assert_eq 151 "$(dq "$d" "SELECT count(DISTINCT _ferry_key) FROM ${T}_activities WHERE length(_ferry_key) = 64
	                          AND lower(_ferry_key) = _ferry_key")" "$d: _ferry_key is a SHA-256 in hex"
	assert_eq "30 30 30" "$(lines dq "$d" "SELECT count(*) FROM ${T}_leads GROUP BY campaign_id")" "$d: leads per campaign_id"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_leads WHERE campaign_id IS NULL OR campaign_id <> \"campaignId\"
	                        OR campaign_id NOT IN (SELECT _id FROM ${T}_campaigns)")" \
		"$d: campaign_id is the parent campaign's _id"
	assert_eq "ada.lovelace.0@prospect0.example|Ada|CEO|Fixture campaign 1|0" \
		"$(dq "$d" "SELECT l.email || '|' || \"firstName\" || '|' || \"jobTitle\" || '|' || c.name || '|'
		            || CASE WHEN \"isPaused\" THEN 1 ELSE 0 END
		            FROM ${T}_leads l JOIN ${T}_campaigns c ON c._id = l.campaign_id WHERE l.email LIKE 'ada.lovelace.0@%'")" \
		"$d: lead 0 and its campaign"
	assert_eq "emailsClicked:9 emailsOpened:45 emailsReplied:7 emailsSent:90" \
		"$(lines dq "$d" "SELECT type || ':' || count(*) FROM ${T}_activities GROUP BY type ORDER BY type")" \
		"$d: activities per type"
	assert_eq 151 "$(dq "$d" "SELECT count(*) FROM ${T}_activities WHERE $(jget "$d" '"metaData"' type) = type")" \
		"$d: metaData stored as JSON"
	assert_eq "2024-01-01T02:00:00|1" \
		"$(dq "$d" "SELECT $(utc "$d" '"createdAt"') || '|' || CASE WHEN \"isFirst\" THEN 1 ELSE 0 END FROM ${T}_activities
		            WHERE \"leadEmail\" LIKE 'ada.lovelace.0@%' AND type = 'emailsSent'")" "$d: lead 0's first email"
	for ct in campaigns._id:text campaigns.createdAt:"timestamp with time zone" campaigns.labels:jsonb \
		campaigns.hasError:boolean campaigns.creator:jsonb campaigns.senders:jsonb \
		leads._id:text leads.campaign_id:text leads.isPaused:boolean leads.email:text \
		activities._ferry_key:text activities.createdAt:"timestamp with time zone" activities.metaData:jsonb \
		activities.isFirst:boolean activities.sequenceStep:bigint activities.campaignId:text; do
		tc=${ct%%:*}
		assert_eq "${ct#*:}" "$(coltype "$d" "${T}_${tc%%.*}" "${tc#*.}")" "$d: column ${T}_${tc%%.*}.${tc#*.}"
	done
	assert_eq "2024-01-03T18:20:00.520Z" "$(cursor_of "$d" activities)" "$d: the activities cursor: the newest createdAt"
	assert_eq "$NEWEST" "$(cursor_of "$d" activities)"
	assert_eq 1 "$(state_rows "$d")" "$d: only activities has a cursor"
done

# ---------------------------------------------------------------- incremental
note "incremental after /__admin/mutate: minDate from the cursor"
M=$(fx_post /__admin/mutate '{"updates": 5, "adds": 3}')
snapshot
assert_eq "5 3 8" "$(jf "$M" '"\(.changed.leads | length) \(.added.leads | length) \(.added.activities | length)"')"
for d in pg lite; do
	act0=$(fx_count /api/activities)
	run ferry sync "$SRC" "$d" --json
	R=$OUT
	assert_eq "succeeded incremental" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" campaigns "3 0 1 2 0" "$d: campaign 1 renamed"
	expect_stream "$R" leads "93 3 5 85 0" "$d: 5 leads replied, 3 new"
	# The 8 new activities and the one at the cursor (minDate is inclusive).
	expect_stream "$R" activities "9 8 0 1 0" "$d: activities from the stored cursor"
	assert_eq $((act0 + 1)) "$(fx_count /api/activities)" "$d: one page of activities, not all of them"
	same_as_api "$d"
	assert_eq "$(jf "$M" '.added.activities[]' | sorted)" \
		"$(dq "$d" "SELECT _id FROM ${T}_activities WHERE $(utc "$d" '"createdAt"') >= '2025'" | sorted)" \
		"$d: the new activities"
	assert_eq "$(jf "$M" '.changed.leads[]' | sorted)" "$(dq "$d" "SELECT _id FROM ${T}_leads WHERE status = 'interested'" | sorted)"
	assert_eq "Fixture campaign 1 (edit 1)" "$(dq "$d" "SELECT name FROM ${T}_campaigns ORDER BY \"createdAt\" LIMIT 1")"
	# The clock of the first mutation is 2025-01-01T01:00:00Z, the 8th change +7 s.
	assert_eq "2025-01-01T01:00:07.000Z" "$(cursor_of "$d" activities)" "$d: the cursor moved to the newest createdAt"
done

# ---------------------------------------------------------------- backfill
note "--since/--until on activities: minDate/maxDate, only the range, the cursor stays"
SINCE=2024-01-01T02:00:00Z UNTIL=2024-01-01T04:50:00Z
# Campaign 1's leads 0, 3, 6, 9, 12 and 15 were sent their first email at
# 02:00 + 10 minutes x lead, lead 0 opened it at 04:00; lead 0's email comes
# twice (a duplicate), lead 3's twice with other contents (a collision):
# 9 rows, 7 keys.
RANGE=$(ll_activities "minDate=$SINCE&maxDate=$UNTIL")
assert_eq "9 7" "$(wc -l <<<"$RANGE") $(jq -r -s "$KEYS_JQ" <<<"$RANGE" | wc -l)" "the fixture's activities in the range"
RANGE_IDS=$(jq -r -s 'map(._id) | unique[]' <<<"$RANGE")
GONE=$(jq -r -s '[group_by(._id)[] | select(length == 1) | .[0]._id][:2] | join("'"','"'")' <<<"$RANGE")
for d in pg lite; do
	C0=$(cursor_of "$d" activities)
	N0=$(nrows "$d" ${T}_activities)
	dq "$d" "UPDATE ${T}_activities SET \"sendUserName\" = 'stale'" >/dev/null
	dq "$d" "DELETE FROM ${T}_activities WHERE _id IN ('$GONE')" >/dev/null
	act0=$(fx_count /api/activities)
	run ferry sync "$SRC" "$d" activities --since "$SINCE" --until "$UNTIL" --json
	R=$OUT
	assert_eq succeeded "$(jf "$R" .status)"
	expect_stream "$R" activities "- 2 5 0 0" "$d: the 7 keys of the range: 2 deleted ones back, 5 rewritten"
	assert_eq "1 1" "$(jf "$R" '.streams[0] | "\(.duplicates) \(.collisions)"')" "$d: the range's duplicate and collision"
	assert_eq $((act0 + 1)) "$(fx_count /api/activities)" "$d: one request"
	assert_eq "$RANGE_IDS" "$(dq "$d" "SELECT _id FROM ${T}_activities WHERE \"sendUserName\" <> 'stale'" | sorted)" \
		"$d: exactly the activities of the range were rewritten"
	assert_eq "$N0" "$(nrows "$d" ${T}_activities)" "$d: the 2 deleted rows are back"
	assert_eq "$C0" "$(cursor_of "$d" activities)" "$d: a backfill does not move the cursor"
done

# ---------------------------------------------------------------- deletions
note "--full after /__admin/delete: deletions counted, rows gone"
KEYS0=$(jf "$DS" .activity_keys)
DEL=$(fx_post /__admin/delete '{"count": 3}')
snapshot
DEL_KEYS=$((KEYS0 - $(jf "$DS" .activity_keys)))
[ "$DEL_KEYS" -ge 3 ] || fail "3 deleted leads should take at least their 3 emailsSent with them, took $DEL_KEYS"
for d in pg lite; do
	full_deleted "$d" "campaigns=0 leads=3 activities=$DEL_KEYS"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_leads WHERE _id IN ('$(jf "$DEL" '.removed.leads | join("'"','"'")')')")" \
		"$d: the deleted leads are gone"
	same_as_api "$d"
done

# ---------------------------------------------------------------- reset
note "--reset: drops the tables and the state, then syncs full"
for d in pg lite; do
	dq "$d" "INSERT INTO ${T}_leads (_id, email, _ferry_synced_at) VALUES ('lea_only_here', 'x@y.example', '2024-01-01T00:00:00Z')" >/dev/null
	dq "$d" "UPDATE _ferry_state SET cursor = '2031-01-01T00:00:00.000Z' WHERE stream = 'activities'" >/dev/null
	run ferry sync "$SRC" "$d" --reset --json --backup-retention 0
	assert_eq "succeeded full" "$(jf "$OUT" '"\(.status) \(.mode)"')" "$d: --reset runs a full sync"
	same_as_api "$d"
	assert_eq "$NEWEST" "$(cursor_of "$d" activities)" "$d: the state was dropped and written again"
done
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- dry run
note "--dry-run over synced tables: nothing written"
fx_post /__admin/mutate '{"updates": 2, "adds": 2}' >/dev/null
snapshot
dry_run_untouched ${T}_activities

# ---------------------------------------------------------------- namespace
note "--namespace staging: PostgreSQL schema staging, SQLite prefix staging__"
for d in pg lite; do
	P0=$(dq "$d" "SELECT * FROM ${T}_activities" | sorted | md5sum)
	run ferry sync "$SRC" "$d" --namespace staging --json
	assert_eq succeeded "$(jf "$OUT" .status)"
	expect_stream "$OUT" activities "- $(jf "$DS" .activity_keys) 0 0 0" "$d: everything is new in the namespace"
	for s in campaigns leads activities; do
		assert_eq t "$(has_table "$d" "${T}_$s" staging)" "$d: $(rel "$d" "${T}_$s" staging)"
	done
	same_as_api "$d" staging
	assert_eq "$NEWEST" "$(cursor_of "$d" activities staging)" "$d: the namespace's own _ferry_state"
	assert_eq "$P0" "$(dq "$d" "SELECT * FROM ${T}_activities" | sorted | md5sum)" "$d: the tables outside the namespace untouched"
	run ferry sync "$SRC" "$d" activities --namespace staging --json
	expect_stream "$OUT" activities "1 0 0 1 0" "$d: incremental in the namespace starts from its own cursor"
done
assert_eq f "$(has_table pg staging__${T}_leads)" "PostgreSQL uses a schema, not a prefix"

# ---------------------------------------------------------------- wrong key
note "a rejected key (sent as ?access_token=): exit 1, one request, nothing written, never shown"
wrong_key "Bad lemlist" lemlist activities /api/activities bad_lemlist_activities

# ---------------------------------------------------------------- retries
note "500, 500, then 200 (and 429, 429 with Retry-After): retried, the sync succeeds"
retried pg campaigns /api/campaigns 500 "" ${T}_campaigns 3
retried lite leads "/api/campaigns/$(head -n 1 <<<"$CIDS")/export/leads" 429 1 ${T}_leads "$(jf "$DS" .leads)"

# ---------------------------------------------------------------- dry run, empty
note "--dry-run into empty destinations: no table created"
dry_run_empty ${T}_activities

pass
