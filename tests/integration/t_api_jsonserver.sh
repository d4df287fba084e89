#!/usr/bin/env bash
# The generic REST connector (--type rest + a manifest) against json-server
# 0.17.4 on 127.0.0.1: page pagination with the Link header, offsets, pages
# bounded by X-Total-Count; --full into PostgreSQL and SQLite (counts, values,
# column types); incremental with updated_at_gte from the stored cursor after
# PATCH/POST; a new field adds a column, a changed type widens it; --since/--until,
# --dry-run, --namespace, deletions counted by --full, --reset.
. "$(dirname "$0")/lib.sh"

MANIFEST=$FERRY_SRC/tests/integration/manifests/jsonserver.yaml
DB=$T_DIR/db.json
node "$PEER_HOME/make_data.js" posts 250 >"$DB"
peer_start json-server "$DB"
API=$(peer_url "$PEER_PORT")
JSLOG=$PEER_LOG

# json-server's own API changes its data (and writes db.json back).
js() { # js METHOD PATH [JSON]
	curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$API$2" >/dev/null ||
		fail "json-server: $1 $2 failed"
}
# The posts as "id:title" in id order, from db.json and from a table.
src_posts() { jq -r '[.posts | sort_by(.id)[] | "\(.id):\(.title)"] | join(",")' "$DB"; }
pg_posts() { q "$1" "SELECT coalesce(string_agg(id || ':' || title, ',' ORDER BY id), '') FROM $2"; }
# Requests json-server logged since the last log_mark, e.g. "GET /posts?...".
log_mark() {
	sleep 0.2
	MARK=$(wc -l <"$JSLOG")
}
log_new() {
	sleep 0.2 # json-server logs a request when its answer has gone out
	tail -n +$((MARK + 1)) "$JSLOG" | sed 's/\x1b\[[0-9;]*m//g' | grep -E '^(GET|POST|PUT|PATCH|DELETE) ' || true
}
# A timestamptz column as UTC text.
UTC="to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
count_lines() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi; }

run ferry source add jsapi --type rest --set manifest="$MANIFEST" --set base_url="$API"
PG=$(newdb pg)
run ferry dest add pg --url "$PG"

# ---------------------------------------------------------------- full -> PostgreSQL
note "--full into PostgreSQL: three pagination styles, 250 posts each"
log_mark
run ferry sync jsapi pg --full --json
R=$OUT
REQS=$(log_new)
assert_eq succeeded "$(jf "$R" '.status')"
for s in posts posts_offset posts_paged; do
	assert_eq 250 "$(jf "$R" ".streams[] | select(.name == \"$s\") | .read")" "$s: 250 records read"
	assert_eq 250 "$(q pg "SELECT count(*) FROM jsapi_$s")" "table jsapi_$s (slug(source) + stream) has 250 rows"
	assert_eq "$(src_posts)" "$(pg_posts pg "jsapi_$s")" "$s: every post arrived, with its title"
	assert_eq id "$(pg_pkey pg "jsapi_$s")" "$s: primary key id"
done
assert_eq 7 "$(count_lines "$(grep -E '_limit=40' <<<"$REQS" || true)")" \
	"posts: Link header pagination, 250/40 -> 7 requests (requests: $REQS)"
assert_eq 5 "$(count_lines "$(grep -E '_limit=60' <<<"$REQS" || true)")" \
	"posts_offset: 60+60+60+60+10 -> 5 requests, the short page ends it"
assert_match "$(grep -E '_limit=60' <<<"$REQS")" '_start=240' "posts_offset: the last request starts at 240"
assert_eq 5 "$(count_lines "$(grep -E '_limit=50' <<<"$REQS" || true)")" \
	"posts_paged: X-Total-Count 250 / 50 -> exactly 5 requests, no empty 6th page"
assert_not_contains "$(grep -E '_limit=50' <<<"$REQS")" "_page=6" "posts_paged: page 6 never asked for"

note "values and column types"
assert_eq "313750|125|31500.0" "$(q pg "SELECT sum(views), count(*) FILTER (WHERE published), sum(score)::numeric(10,1) FROM jsapi_posts")" \
	"views, published, score summed"
assert_eq "post 8|author 1|1|[\"t2\", \"t3\"]|2024-01-01 00:08:00" \
	"$(q pg "SELECT title, author->>'name', author->'id', tags::text, $UTC FROM jsapi_posts WHERE id = 8")" \
	"post 8: text, object as jsonb, array as jsonb, declared rfc3339 as timestamptz"
for col in id:bigint views:bigint score:"double precision" published:boolean title:text \
	author:jsonb tags:jsonb updated_at:"timestamp with time zone" _ferry_synced_at:"timestamp with time zone"; do
	assert_eq "${col#*:}" "$(pg_coltype pg jsapi_posts "${col%%:*}")" "column ${col%%:*}"
done
assert_eq 0 "$(q pg 'SELECT count(*) FROM jsapi_posts WHERE _ferry_synced_at IS NULL')" "_ferry_synced_at set on every row"
assert_eq 0 "$(pg_staging_count pg)" "no staging tables left"

# ---------------------------------------------------------------- full -> SQLite
note "--full into SQLite"
LITE=$T_DIR/warehouse.db
run ferry dest add lite --url "sqlite://$LITE"
run ferry sync jsapi lite posts --full --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 250 "$(jf "$OUT" '.streams[0].read')"
assert_eq "250|313750|125" "$(sq "$LITE" 'SELECT count(*), sum(views), (SELECT count(*) FROM jsapi_posts WHERE published) FROM jsapi_posts')" \
	"SQLite: rows, integers, booleans"
assert_eq "$(src_posts)" "$(sq "$LITE" "SELECT group_concat(r, ',') FROM (SELECT id || ':' || title AS r FROM jsapi_posts ORDER BY id)")" \
	"SQLite: every post arrived"
assert_eq "author 1|t3" "$(sq "$LITE" "SELECT json_extract(author, '\$.name'), json_extract(tags, '\$[1]') FROM jsapi_posts WHERE id = 8")" \
	"SQLite: objects and arrays stored as JSON text"
assert_eq id "$(sq "$LITE" "SELECT name FROM pragma_table_info('jsapi_posts') WHERE pk > 0")" "SQLite: primary key id"

# ---------------------------------------------------------------- incremental
note "incremental right after --full: asks from the stored cursor, nothing new"
log_mark
run ferry sync jsapi pg posts --json
REQS=$(log_new)
read -r p_read p_ins p_upd p_unch p_del <<<"$(stream_counts "$OUT" posts)"
assert_eq "0 0" "$p_ins $p_upd" "nothing changed: nothing inserted or updated"
[ "$p_read" -le 1 ] || fail "incremental read from the cursor: expected at most the record at the cursor, read $p_read"
assert_match "$REQS" 'updated_at_gte=2024-01-01T04(:|%3[aA])10' \
	"the request carries updated_at_gte = the newest updated_at (04:10)"

note "incremental after PATCH and POST: the changed and new posts only"
js PATCH /posts/5 '{"title": "changed 5", "updated_at": "2024-06-01T00:00:00Z"}'
js PATCH /posts/6 '{"title": "changed 6", "views": 7, "updated_at": "2024-06-01T00:01:00Z"}'
js POST /posts '{"id": 251, "title": "post 251", "views": 2510, "score": 251.5, "published": true,
	"updated_at": "2024-06-02T00:00:00Z", "author": {"name": "new", "id": 9}, "tags": []}'
js POST /posts '{"id": 252, "title": "post 252", "views": 2520, "score": 252.5, "published": false,
	"updated_at": "2024-06-02T00:01:00Z", "author": {"name": "new", "id": 9}, "tags": ["x"]}'
run ferry sync jsapi pg posts --json
read -r p_read p_ins p_upd p_unch p_del <<<"$(stream_counts "$OUT" posts)"
assert_eq "2 2" "$p_ins $p_upd" "2 inserted (251, 252), 2 updated (5, 6)"
[ "$p_read" -le 5 ] || fail "incremental: expected to read the 4 changed posts (+1 at the cursor), read $p_read"
assert_eq "$(src_posts)" "$(pg_posts pg jsapi_posts)" "jsapi_posts equals json-server after incremental"
assert_eq "7|2024-06-01 00:01:00" "$(q pg "SELECT views, $UTC FROM jsapi_posts WHERE id = 6")"

note "a new field adds a column; a string in a bigint column widens it to text"
js POST /posts '{"id": 253, "title": "post 253", "views": 1, "score": 1.5, "published": true,
	"updated_at": "2024-06-03T00:00:00Z", "author": {}, "tags": [], "category": "news"}'
js PATCH /posts/252 '{"views": "many", "updated_at": "2024-06-03T00:01:00Z"}'
run ferry sync jsapi pg posts --json
assert_eq succeeded "$(jf "$OUT" '.status')" "schema changes do not fail the sync"
assert_eq text "$(pg_coltype pg jsapi_posts category)" "new field category -> new text column"
assert_eq "news|1" "$(q pg "SELECT category, count(*) OVER () FROM jsapi_posts WHERE category IS NOT NULL")" \
	"category set on the one post that has it, NULL elsewhere"
assert_eq text "$(pg_coltype pg jsapi_posts views)" "views widened bigint -> text"
assert_eq "10|2510|many" "$(q pg "SELECT string_agg(views, '|' ORDER BY id) FROM jsapi_posts WHERE id IN (1, 251, 252)")" \
	"views kept as text: old numbers and the new string"
assert_eq "$(src_posts)" "$(pg_posts pg jsapi_posts)" "jsapi_posts equals json-server after the schema change"

# ---------------------------------------------------------------- backfill
note "--since/--until: only the range, the cursor stays"
state_cols=$(q pg "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = '_ferry_state' AND column_name ~ '(stream|cursor)'")
assert_match "$state_cols" 'stream.*cursor|cursor.*stream' "_ferry_state has stream and cursor columns"
# The stored cursor of stream posts (not posts_offset / posts_paged).
state_cursor() { q pg "SELECT t::text FROM (SELECT $state_cols FROM public._ferry_state) t
                       WHERE t::text ~ '(^|[^a-z_])posts([^a-z_]|$)'"; }
cursor_before=$(state_cursor)
[ -n "$cursor_before" ] || fail "no cursor row for posts in _ferry_state: $(q pg 'SELECT * FROM _ferry_state')"
q pg "UPDATE jsapi_posts SET title = 'stale' WHERE id BETWEEN 55 AND 75" >/dev/null
# Posts 61..70 have updated_at 01:01 .. 01:10; the bounds fall between records.
log_mark
run ferry sync jsapi pg posts --since 2024-01-01T01:00:30Z --until 2024-01-01T01:10:30Z --json
REQS=$(log_new)
assert_eq succeeded "$(jf "$OUT" '.status')"
read -r p_read p_ins p_upd p_unch p_del <<<"$(stream_counts "$OUT" posts)"
assert_eq "10 0 10" "$p_read $p_ins $p_upd" "the backfill read and updated posts 61..70"
assert_match "$REQS" 'updated_at_gte=2024-01-01T01(:|%3[aA])00(:|%3[aA])30' "--since sent as updated_at_gte"
assert_match "$REQS" 'updated_at_lte=2024-01-01T01(:|%3[aA])10(:|%3[aA])30' "--until sent as the until_param"
assert_eq "61-70" "$(q pg "SELECT min(id) || '-' || max(id) FROM jsapi_posts WHERE id BETWEEN 55 AND 75 AND title <> 'stale'")" \
	"inside the range repaired, outside left alone"
assert_eq "$cursor_before" "$(state_cursor)" "a backfill does not move the stored cursor"

# ---------------------------------------------------------------- dry run
note "--dry-run writes nothing"
js PATCH /posts/10 '{"title": "dry", "updated_at": "2024-06-04T00:00:00Z"}'
tables() { q pg "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_tables
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"; }
T0=$(tables)
S0=$(pg_sum pg jsapi_posts 'id, title, views, _ferry_synced_at')
C0=$(state_cursor)
for mode in "" --full; do
	# shellcheck disable=SC2086
	run ferry sync jsapi pg --dry-run $mode
	assert_eq "$T0" "$(tables)" "dry run $mode: no table created or dropped"
	assert_eq "$S0" "$(pg_sum pg jsapi_posts 'id, title, views, _ferry_synced_at')" "dry run $mode: rows untouched"
	assert_eq "$C0" "$(state_cursor)" "dry run $mode: cursor untouched"
done

# ---------------------------------------------------------------- namespace
note "--namespace staging: schema staging, its own state"
run ferry sync jsapi pg posts --namespace staging --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq "$(src_posts)" "$(pg_posts pg staging.jsapi_posts)" "staging.jsapi_posts equals json-server"
assert_eq t "$(pg_has_table pg staging _ferry_state)" "staging has its own _ferry_state"
assert_eq 0 "$(q pg "SELECT count(*) FROM public.jsapi_posts WHERE title = 'dry'")" "public untouched by the namespaced run"

# ---------------------------------------------------------------- deletions
note "--full counts posts deleted at the source"
js DELETE /posts/3
js DELETE /posts/4
run ferry sync jsapi pg posts --full --json --backup-retention 0
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 2 "$(jf "$OUT" '.streams[] | select(.name == "posts") | .deleted')" "2 deleted posts counted"
assert_eq 251 "$(q pg 'SELECT count(*) FROM jsapi_posts')"
assert_eq "$(src_posts)" "$(pg_posts pg jsapi_posts)" "jsapi_posts equals json-server after --full"

# ---------------------------------------------------------------- reset
note "--reset drops the tables and state, then syncs full"
q pg "INSERT INTO jsapi_posts (id, title, _ferry_synced_at) VALUES (9999, 'only in the destination', now())" >/dev/null
run ferry sync jsapi pg posts --reset --json
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq full "$(jf "$OUT" '.mode')" "--reset runs a full sync"
assert_eq "$(src_posts)" "$(pg_posts pg jsapi_posts)" "after --reset jsapi_posts equals json-server exactly"
assert_ne "" "$(state_cursor)" "state written again after --reset"
assert_eq 0 "$(pg_staging_count pg)"

pass
