#!/usr/bin/env bash
# The built-in close connector against tests/fixtures/close_server.js (200
# leads, 267 contacts, 100 opportunities, 600 activities, 4 users, 5 custom
# fields), into PostgreSQL and SQLite: a source named "EU Close-CRM" writes
# eu_close_crm_<stream>. --full (exact rows, values, column types, stored
# cursors), incremental after /__admin/mutate (date_updated__gte /
# date_created__gte from the cursor), --since/--until on activities, --full
# counting deletions, --reset, --dry-run, --namespace, a rejected key (one
# request, nothing written), 500s retried.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vendor_lib.sh"

CKEY=close_key_$RANDOM$RANDOM
vendor_setup close_server.js /api/v1 --key "$CKEY"
SRC="EU Close-CRM"
T=eu_close_crm
STREAMS="leads contacts opportunities activities users custom_fields"

# close_list PATH JQ: every record of a Close list endpoint (_skip/_limit
# pages until has_more is false), through JQ, one line each: the fixture's
# own view of its data.
close_list() {
	local skip=0 page sep='?'
	[[ $1 != *'?'* ]] || sep='&'
	while :; do
		page=$(curl -sf --max-time 10 -u "$CKEY:" "$API$1${sep}_limit=100&_skip=$skip") ||
			fail "fixture: GET $1 failed"
		jf "$page" ".data[] | $2"
		[ "$(jf "$page" .has_more)" = true ] || break
		skip=$((skip + 100))
	done
}
# The fixture's records per stream, as "id:field" lines (the columns SQL_OF
# gives the same from a table); snapshot refreshes them after the fixture's data
# changed, same_as_api compares every table with them.
declare -A SNAP
declare -A SQL_OF=(
	[leads]="id || ':' || name" [contacts]="id || ':' || title"
	[opportunities]="id || ':' || value || ':' || status_label" [activities]="id || ':' || _type"
	[users]="id || ':' || email" [custom_fields]="id || ':' || name")
snapshot() {
	SNAP[leads]=$(close_list /lead/ '"\(.id):\(.name)"' | sorted)
	SNAP[contacts]=$(close_list /contact/ '"\(.id):\(.title)"' | sorted)
	SNAP[opportunities]=$(close_list /opportunity/ '"\(.id):\(.value):\(.status_label)"' | sorted)
	SNAP[activities]=$(close_list /activity/ '"\(.id):\(._type)"' | sorted)
	SNAP[users]=$(close_list /user/ '"\(.id):\(.email)"' | sorted)
	SNAP[custom_fields]=$(close_list /custom_field/lead/ '"\(.id):\(.name)"' | sorted)
	NEWEST_OPP=$(close_list /opportunity/ .date_updated | sorted | tail -n 1)
}
# same_as_api DEST [NS]: every table holds exactly the records the API lists.
same_as_api() {
	local s want got
	for s in $STREAMS; do
		want=${SNAP[$s]}
		got=$(dq "$1" "SELECT ${SQL_OF[$s]} FROM $(rel "$1" "${T}_$s" "${2:-}")" | sorted)
		[ "$want" = "$got" ] || fail "$1: ${T}_$s differs from the API's records ($(wc -l <<<"$want") listed, $(wc -l <<<"$got") in the table; diff: $(diff <(echo "$want") <(echo "$got") | head -n 6 | tr '\n' ' '))"
	done
}

run ferry source add "$SRC" --type close --set api_key="$CKEY" --set base_url="$API" --set requests_per_second=1000
run ferry source show "$SRC"
assert_not_contains "$OUT$ERR" "$CKEY" "the API key is a secret: never shown"

DS=$(jf "$(fx_get /__admin/stats)" '.dataset | "\(.leads) \(.contacts) \(.opportunities) \(.activities) \(.users) \(.custom_fields)"')
assert_eq "200 267 100 600 4 5" "$DS" "the fixture serves its documented dataset"
snapshot

# ---------------------------------------------------------------- full
for d in pg lite; do
	note "$d: --full of every stream"
	run ferry sync "$SRC" "$d" --full --json --backup-retention 0
	R=$OUT
	assert_not_contains "$OUT$ERR" "$CKEY" "the API key never appears in a report"
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')"
	for sn in leads:200 contacts:267 opportunities:100 activities:600 users:4 custom_fields:5; do
		s=${sn%%:*} n=${sn#*:}
		expect_stream "$R" "$s" "$n $n 0 0 0" "$d: $s"
		assert_eq "${T}_$s" "$(jf "$R" ".streams[] | select(.name == \"$s\") | .table")" "table slug(\"$SRC\")_$s"
		assert_eq "$n" "$(nrows "$d" "${T}_$s")" "$d: ${T}_$s has exactly $n rows"
		assert_eq id "$(pkey "$d" "${T}_$s")" "$d: ${T}_$s primary key"
	done
	assert_eq "0 0" "$(jf "$R" '"\([.streams[].duplicates] | add) \([.streams[].collisions] | add)"')" \
		"Close records have ids: no duplicates or collisions"
	same_as_api "$d"

	note "$d: values and column types"
	CF_USERS=$(dq "$d" "SELECT id FROM ${T}_custom_fields WHERE name = '# of users'")
	CF_IND=$(dq "$d" "SELECT id FROM ${T}_custom_fields WHERE name = 'Industry'")
	assert_match "$CF_USERS $CF_IND" '^cf_[A-Za-z0-9]+ cf_[A-Za-z0-9]+$' "custom field ids"
	assert_eq "Wayne 1|Bad Fit|17|Cars|2024-01-01T05:30:00" \
		"$(dq "$d" "SELECT name || '|' || status_label || '|' || \"custom.$CF_USERS\" || '|' || \"custom.$CF_IND\"
		            || '|' || $(utc "$d" date_created) FROM ${T}_leads WHERE description = 'Lead 7 of the fixture'")" \
		"$d: lead 7: name, status, custom.cf_ columns, date_created"
	assert_eq 10200 "$(dq "$d" "SELECT sum(\"custom.$CF_USERS\") FROM ${T}_leads")" "$d: sum of 10 + i % 90 over 200 leads"
	assert_eq "33|2500000|2024-01-01" \
		"$(dq "$d" "SELECT count(date_won) || '|' || sum(value) || '|' || min(date_won) FROM ${T}_opportunities")" \
		"$d: opportunities: 33 won (with a date_won), values summed"
	assert_eq "Call:100 Created:200 Email:100 Note:200" \
		"$(dq "$d" "SELECT _type || ':' || count(*) FROM ${T}_activities GROUP BY _type ORDER BY _type" | tr '\n' ' ' | sed 's/ $//')" \
		"$d: activities per _type"
	assert_eq 16000 "$(dq "$d" "SELECT sum(duration) FROM ${T}_activities WHERE _type = 'Call'")" "$d: call durations"
	assert_eq "CEO:200 CTO:67" \
		"$(dq "$d" "SELECT title || ':' || count(*) FROM ${T}_contacts GROUP BY title ORDER BY title" | tr '\n' ' ' | sed 's/ $//')"
	assert_eq "Industry|1" "$(dq "$d" "SELECT name || '|' || count(*) FROM ${T}_custom_fields WHERE accepts_multiple_values GROUP BY name")" \
		"$d: a boolean column"
	for ct in leads.id:text leads.date_created:"timestamp with time zone" leads.date_updated:"timestamp with time zone" \
		leads.addresses:jsonb "leads.custom.$CF_USERS":bigint "leads.custom.$CF_IND":text \
		opportunities.date_won:date opportunities.value:bigint opportunities.confidence:bigint \
		opportunities.date_updated:"timestamp with time zone" activities.activity_at:"timestamp with time zone" \
		activities.duration:bigint contacts.emails:jsonb custom_fields.accepts_multiple_values:boolean \
		custom_fields.choices:jsonb; do
		tc=${ct%%:*}
		assert_eq "${ct#*:}" "$(coltype "$d" "${T}_${tc%%.*}" "${tc#*.}")" "$d: column ${T}_${tc%%.*}.${tc#*.}"
	done

	if [ "$d" = pg ]; then
		assert_eq "timestamp with time zone" "$(coltype pg ${T}_leads _ferry_synced_at)"
	fi

	note "$d: stored cursors: the newest date_updated / date_created read"
	assert_eq "2024-01-06T20:10:00.488772+00:00" "$(cursor_of "$d" opportunities)" "$d: opportunities cursor"
	assert_eq "2024-01-05T06:00:00.575881+00:00" "$(cursor_of "$d" activities)" "$d: activities cursor"
	assert_eq 2 "$(state_rows "$d")" "$d: only the two streams with a cursor have state"
	if [ "$d" = pg ]; then
		assert_eq "t|t" "$(q pg "SELECT (SELECT max(date_updated) FROM ${T}_opportunities) = '$(cursor_of pg opportunities)'::timestamptz,
		                         (SELECT max(date_created) FROM ${T}_activities) = '$(cursor_of pg activities)'::timestamptz")" \
			"pg: the cursors are the newest values in the tables"
	else
		assert_eq "$(cursor_of lite opportunities)" "$(sq "$LITE" "SELECT max(date_updated) FROM ${T}_opportunities")"
	fi
done

# ---------------------------------------------------------------- incremental
note "incremental after /__admin/mutate: 5 updates and 3 new leads per collection"
M=$(fx_post /__admin/mutate '{"updates": 5, "adds": 3}')
snapshot
NEW_CONTACTS=$(jf "$M" '.added.contacts | length')
NEW_ACTS=$(jf "$M" '.added.activities | length')
assert_eq "5 5 5 3 3 9" "$(jf "$M" '[.updated.leads, .updated.contacts, .updated.opportunities, .added.leads, .added.opportunities, .added.activities] | map(length) | join(" ")')" \
	"the mutation's answer (3 new leads, each with an opportunity and 3 activities)"
for d in pg lite; do
	opp0=$(fx_count /api/v1/opportunity/)
	run ferry sync "$SRC" "$d" --json
	R=$OUT
	assert_eq "succeeded incremental" "$(jf "$R" '"\(.status) \(.mode)"')"
	expect_stream "$R" leads "203 3 5 195 0" "$d: leads are read whole and upserted"
	expect_stream "$R" contacts "$((267 + NEW_CONTACTS)) $NEW_CONTACTS 5 262 0" "$d: contacts read whole"
	# date_updated__gte / date_created__gte from the cursor: the changed and new
	# records, plus the one at the cursor itself (>= is inclusive).
	expect_stream "$R" opportunities "9 3 5 1 0" "$d: opportunities from the stored cursor"
	expect_stream "$R" activities "$((NEW_ACTS + 1)) $NEW_ACTS 0 1 0" "$d: activities from the stored cursor"
	expect_stream "$R" users "4 0 0 4 0"
	expect_stream "$R" custom_fields "5 0 0 5 0"
	assert_eq $((opp0 + 1)) "$(fx_count /api/v1/opportunity/)" "$d: one page of opportunities asked for, not all of them"
	same_as_api "$d"
	assert_eq "$(jf "$M" '.updated.leads[]' | sorted)" \
		"$(dq "$d" "SELECT id FROM ${T}_leads WHERE name LIKE '% (edit 1)'" | sorted)" "$d: the 5 renamed leads"
	assert_eq "$(jf "$M" '(.updated.opportunities + .added.opportunities)[]' | sorted)" \
		"$(dq "$d" "SELECT id FROM ${T}_opportunities WHERE $(utc "$d" date_updated) >= '2025-01-01'" | sorted)" \
		"$d: the 5 updated and 3 new opportunities carry the new date_updated"
	# The clock of the first mutation is 2025-01-01T01:00:00Z; the 3rd new lead
	# is created at +17 s, its opportunity 10 minutes and its last activity 30
	# minutes later.
	assert_eq "2025-01-01T01:10:17.000000+00:00" "$(cursor_of "$d" opportunities)" "$d: opportunities cursor moved"
	assert_eq "2025-01-01T01:30:17.000000+00:00" "$(cursor_of "$d" activities)" "$d: activities cursor moved"
done

# ---------------------------------------------------------------- backfill
note "--since/--until on activities: only the range, the stored cursor stays"
SINCE=2024-01-01T05:10:00Z UNTIL=2024-01-01T06:20:00Z
# Leads 6, 7 and 8 (created 05:00, 05:30, 06:00) have activities at +0, +15
# and +30 minutes: 7 of them lie in [05:10, 06:20).
RANGE=$(close_list "/activity/?date_created__gte=$SINCE&date_created__lt=$UNTIL" .id | sorted)
assert_eq 7 "$(wc -l <<<"$RANGE")" "the fixture has 7 activities in the range"
for d in pg lite; do
	C0="$(cursor_of "$d" opportunities) $(cursor_of "$d" activities)"
	N0=$(nrows "$d" ${T}_activities)
	dq "$d" "UPDATE ${T}_activities SET user_name = 'stale'" >/dev/null
	dq "$d" "DELETE FROM ${T}_activities WHERE id IN ('$(head -n 2 <<<"$RANGE" | paste -sd, | sed "s/,/','/g")')" >/dev/null
	act0=$(fx_count /api/v1/activity/)
	run ferry sync "$SRC" "$d" activities --since "$SINCE" --until "$UNTIL" --json
	R=$OUT
	assert_eq succeeded "$(jf "$R" .status)"
	expect_stream "$R" activities "7 2 5 0 0" "$d: the backfill read the 7 activities of the range"
	assert_eq $((act0 + 1)) "$(fx_count /api/v1/activity/)" "$d: one request"
	assert_eq "$RANGE" "$(dq "$d" "SELECT id FROM ${T}_activities WHERE user_name <> 'stale'" | sorted)" \
		"$d: exactly the activities of the range were rewritten"
	assert_eq "$N0" "$(nrows "$d" ${T}_activities)" "$d: the 2 deleted rows are back"
	assert_eq "$C0" "$(cursor_of "$d" opportunities) $(cursor_of "$d" activities)" "$d: a backfill does not move the cursors"
done

# ---------------------------------------------------------------- deletions
note "--full after /__admin/delete: deletions counted, rows gone"
DEL=$(fx_post /__admin/delete '{"count": 3}')
snapshot
DL=$(jf "$DEL" '.removed | "\(.leads | length) \(.contacts | length) \(.opportunities | length) \(.activities | length)"')
read -r del_l del_c del_o del_a <<<"$DL"
assert_eq 3 "$del_l" "3 leads deleted"
DS=$(jf "$(fx_get /__admin/stats)" '.dataset')
for d in pg lite; do
	full_deleted "$d" "leads=$del_l opportunities=$del_o activities=$del_a contacts=$del_c users=0 custom_fields=0"
	for s in leads contacts opportunities activities; do
		assert_eq "$(jf "$DS" ".$s")" "$(nrows "$d" "${T}_$s")" "$d: ${T}_$s equals the fixture after the deletes"
		assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_$s WHERE id IN ('$(jf "$DEL" ".removed.$s | join(\"','\")")')")" \
			"$d: the deleted $s are gone"
	done
	same_as_api "$d"
done

# ---------------------------------------------------------------- reset
note "--reset: drops the tables and the state, then syncs full"
for d in pg lite; do
	dq "$d" "INSERT INTO ${T}_leads (id, name, _ferry_synced_at) VALUES ('lead_only_here', 'not at the source', '2024-01-01T00:00:00Z')" >/dev/null
	dq "$d" "UPDATE _ferry_state SET cursor = '2031-01-01T00:00:00.000000+00:00' WHERE stream = 'opportunities'" >/dev/null
	run ferry sync "$SRC" "$d" --reset --json --backup-retention 0
	R=$OUT
	assert_eq "succeeded full" "$(jf "$R" '"\(.status) \(.mode)"')" "$d: --reset runs a full sync"
	assert_eq 0 "$(dq "$d" "SELECT count(*) FROM ${T}_leads WHERE id = 'lead_only_here'")" "$d: the stray row went with the table"
	assert_eq "$(jf "$DS" .leads)" "$(nrows "$d" ${T}_leads)"
	assert_eq "$NEWEST_OPP" "$(cursor_of "$d" opportunities)" "$d: the state was dropped and written again"
	same_as_api "$d"
done
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- dry run
note "--dry-run over synced tables: rows and cursors untouched"
fx_post /__admin/mutate '{"updates": 2, "adds": 1}' >/dev/null
snapshot
dry_run_untouched ${T}_leads

# ---------------------------------------------------------------- namespace
note "--namespace eu_prod: PostgreSQL schema eu_prod, SQLite prefix eu_prod__"
for d in pg lite; do
	P0=$(dq "$d" "SELECT id || name FROM ${T}_leads" | sorted | md5sum)
	run ferry sync "$SRC" "$d" --namespace eu_prod --json
	R=$OUT
	assert_eq succeeded "$(jf "$R" .status)"
	assert_eq "$(jf "$R" '.streams | map(.read) | join(" ")')" "$(jf "$R" '.streams | map(.inserted) | join(" ")')" \
		"$d: a new namespace has its own state: everything read and inserted"
	for s in $STREAMS; do
		assert_eq t "$(has_table "$d" "${T}_$s" eu_prod)" "$d: $(rel "$d" "${T}_$s" eu_prod)"
	done
	same_as_api "$d" eu_prod
	assert_eq "$NEWEST_OPP" "$(cursor_of "$d" opportunities eu_prod)" "$d: the namespace's own _ferry_state"
	assert_eq "$P0" "$(dq "$d" "SELECT id || name FROM ${T}_leads" | sorted | md5sum)" "$d: the tables outside the namespace untouched"
	run ferry sync "$SRC" "$d" opportunities --namespace eu_prod --json
	expect_stream "$OUT" opportunities "1 0 0 1 0" "$d: incremental in the namespace starts from its own cursor"
done
assert_eq f "$(has_table pg eu_prod__${T}_leads)" "PostgreSQL uses a schema, not a prefix"

# ---------------------------------------------------------------- wrong key
note "a rejected key: exit 1, one request, a clear message, nothing written"
wrong_key "Bad Close" close leads /api/v1/lead/ bad_close_leads

# ---------------------------------------------------------------- retries
note "500, 500, then 200: retried, the sync succeeds"
retried pg users /api/v1/user/ 500 "" ${T}_users 4
retried lite users /api/v1/user/ 500 "" ${T}_users 4

# ---------------------------------------------------------------- dry run, empty
note "--dry-run into empty destinations: no table created"
dry_run_empty ${T}_opportunities

pass
