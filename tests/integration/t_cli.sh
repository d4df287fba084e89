#!/usr/bin/env bash
# The command line a user scripts against: help, version, keygen, source/dest
# CRUD by name and by id, doctor, apply/export round trip, jobs.
. "$(dirname "$0")/lib.sh"

# ---------------------------------------------------------------- help, version, keygen
note "--help on every command"
run ferry --help
assert_contains "$OUT" "usage" "ferry --help prints usage"
for cmd in "source" "source add" "source list" "source show" "source test" "source rm" \
	"dest" "dest add" "dest list" "dest show" "dest test" "dest rm" \
	"sync" "jobs" "job" "job show" "apply" "export" "doctor" "keygen"; do
	# shellcheck disable=SC2086
	run ferry $cmd --help
	assert_contains "$OUT" "usage" "\`ferry $cmd --help\` prints usage on stdout"
done
run ferry sync --help
for opt in --full --since --until --reset --namespace --dry-run --batch-size --json; do
	assert_contains "$OUT" "$opt" "ferry sync --help documents $opt"
done

note "--version"
run ferry --version
assert_match "$OUT" '^ferry [0-9]+\.[0-9]+\.[0-9]+' "ferry --version prints 'ferry X.Y.Z'"

note "keygen"
run ferry keygen
k1=$OUT
assert_match "$k1" '^[0-9a-f]{64}$' "ferry keygen prints 64 hex characters"
run ferry keygen
assert_ne "$k1" "$OUT" "two keygen runs print different keys"
# The key it prints works.
KEY=$k1 STORE=$T_DIR/keygen.db run ferry source add kg --type sqlite --set path=/tmp/none.db
KEY=$k1 STORE=$T_DIR/keygen.db run ferry source list

# ---------------------------------------------------------------- sources
note "source add/list/show/rm"
SRC_DB=$T_DIR/shop.db
sq "$SRC_DB" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
              INSERT INTO users VALUES (1, 'ada'), (2, 'bob');"
PGURL=$(newdb src)
q src "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'x');" >/dev/null

run ferry source add shop --type sqlite --set path="$SRC_DB"
assert_match "$OUT" 'src_[0-9a-f]+' "source add prints the new id"
shop_id=$(grep -oE 'src_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
run ferry source add pg --type postgres --set url="$PGURL" --set tables=items
pg_id=$(grep -oE 'src_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
assert_ne "$shop_id" "$pg_id" "two sources get different ids"

run ferry source list
assert_contains "$OUT" "shop"
assert_contains "$OUT" "$shop_id" "source list shows ids"
assert_contains "$OUT" "$pg_id"
run ferry source list --json
assert_eq 2 "$(jf "$OUT" 'length')" "source list --json has both sources"
assert_eq "$shop_id" "$(jf "$OUT" '.[] | select(.name == "shop") | .id')" "source list --json: id of shop"
assert_eq "sqlite" "$(jf "$OUT" '.[] | select(.name == "shop") | .type')" "source list --json: type"

run ferry source show shop
assert_contains "$OUT" "$shop_id" "source show by name"
run ferry source show "$shop_id"
assert_contains "$OUT" "shop" "source show by id"
run ferry source show "$pg_id" --json
assert_eq "pg" "$(jf "$OUT" '.name')" "source show ID --json"
assert_eq "items" "$(jf "$OUT" '.settings.tables')" "source show --json keeps settings"

run ferry source test shop
run ferry source test "$pg_id"

note "duplicate name refused"
before=$(ferry source list --json)
expect_exit 2 ferry source add shop --type sqlite --set path="$SRC_DB"
assert_error_msg
assert_contains "$ERR" "shop" "duplicate name: message names it"
assert_contains "$ERR" "exist" "duplicate name: message says it already exists"
assert_eq "$before" "$(ferry source list --json)" "a refused duplicate changes nothing"

note "source rm by name and by id"
run ferry source add tmp1 --type sqlite --set path="$SRC_DB"
run ferry source add tmp2 --type sqlite --set path="$SRC_DB"
tmp2_id=$(grep -oE 'src_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
run ferry source rm tmp1
run ferry source rm "$tmp2_id"
run ferry source list --json
assert_eq "pg,shop" "$(jf "$OUT" '[.[].name] | sort | join(",")')" "rm by name and by id removed both"
expect_fail ferry source show tmp1
assert_error_msg
assert_contains "$ERR" "tmp1" "showing a removed source names it"

# ---------------------------------------------------------------- destinations
note "dest add/list/show/rm"
DST_DB=$T_DIR/warehouse.db
run ferry dest add wh --url "sqlite://$DST_DB"
assert_match "$OUT" 'dst_[0-9a-f]+' "dest add prints the new id"
wh_id=$(grep -oE 'dst_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
PGDST=$(newdb dst)
run ferry dest add pgdw --url "$PGDST"
pgdw_id=$(grep -oE 'dst_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
run ferry dest list
assert_contains "$OUT" "$wh_id"
assert_contains "$OUT" "pgdw"
run ferry dest list --json
assert_eq 2 "$(jf "$OUT" 'length')" "dest list --json"
run ferry dest show wh
assert_contains "$OUT" "$wh_id" "dest show by name"
run ferry dest show "$pgdw_id"
assert_contains "$OUT" "pgdw" "dest show by id"
assert_contains "$OUT" "********" "dest URL is masked"
run ferry dest test wh
run ferry dest test "$pgdw_id"
expect_exit 2 ferry dest add wh --url "sqlite://$DST_DB"
assert_error_msg
assert_contains "$ERR" "exist" "duplicate destination name refused"
run ferry dest add gone1 --url "sqlite://$T_DIR/g1.db"
run ferry dest add gone2 --url "sqlite://$T_DIR/g2.db"
g2=$(grep -oE 'dst_[0-9a-f]+' <<<"$OUT" | sed -n 1p)
run ferry dest rm gone1
run ferry dest rm "$g2"
run ferry dest list --json
assert_eq "pgdw,wh" "$(jf "$OUT" '[.[].name] | sort | join(",")')" "dest rm by name and by id"

# ---------------------------------------------------------------- doctor
note "doctor: all well"
run ferry doctor
assert_contains "$OUT" "$shop_id" "doctor lists sources with their ids"
assert_contains "$OUT" "$pg_id"
assert_contains "$OUT" "shop"
note "doctor: unreachable destination"
run ferry dest add down --url "postgres://postgres@127.0.0.1:1/nowhere"
rc=0
ferry doctor >"$T_DIR/doctor.out" 2>&1 || rc=$?
_check_sanitizers "$T_DIR/doctor.out" "ferry doctor"
[ "$rc" != 0 ] || fail "ferry doctor exits 0 although destination \"down\" is unreachable: $(cat "$T_DIR/doctor.out")"
[ "$rc" -lt 128 ] || fail "ferry doctor crashed (exit $rc): $(cat "$T_DIR/doctor.out")"
assert_contains "$(cat "$T_DIR/doctor.out")" "down" "doctor names the unreachable destination"
assert_contains "$(cat "$T_DIR/doctor.out")" "127.0.0.1:1" "doctor says which host:port it could not reach"
run ferry dest rm down
run ferry doctor

# ---------------------------------------------------------------- sync, jobs, job show
note "jobs and job show"
run ferry sync shop wh --json
j1=$(jf "$OUT" '.job_id')
assert_eq succeeded "$(jf "$OUT" '.status')"
assert_eq 2 "$(sq "$DST_DB" 'SELECT count(*) FROM users')" "sync shop -> wh copied the rows"
run ferry sync "$shop_id" "$wh_id" --json
j2=$(jf "$OUT" '.job_id')
assert_eq succeeded "$(jf "$OUT" '.status')" "sync by ids"
run ferry jobs
assert_contains "$OUT" "$j1"
assert_contains "$OUT" "succeeded"
run ferry jobs --json
assert_eq "$j2" "$(jf "$OUT" '.[0].id')" "jobs --json: newest first"
assert_eq "$j1" "$(jf "$OUT" '.[1].id')"
assert_eq succeeded "$(jf "$OUT" '.[0].status')"
assert_eq "users" "$(jf "$OUT" '.[0].streams[0].name')" "jobs --json carries streams"
run ferry jobs --limit 1 --json
assert_eq 1 "$(jf "$OUT" 'length')" "jobs --limit 1"
run ferry job show "$j1"
assert_contains "$OUT" "succeeded" "job show prints the status"
assert_contains "$OUT" "users" "job show prints the streams"
run ferry job show "$j1" --json
assert_eq "$j1" "$(jf "$OUT" '.id')" "job show --json"
assert_eq 2 "$(jf "$OUT" '.streams[0].read')" "job show --json: rows read"
expect_fail ferry job show 999999
assert_error_msg

note "progress on stderr is plain lines when stderr is not a terminal"
run ferry sync shop wh --full
if grep -q $'\r\|\033\[' <<<"$ERR"; then
	fail "progress written to a file or pipe contains carriage returns or escape codes: $(printf '%s' "$ERR" | od -c | head -n 5)"
fi

# ---------------------------------------------------------------- --db and FERRY_DATABASE_URL
note "--db and FERRY_DATABASE_URL"
FERRY_DATABASE_URL="$T_DIR/other.db" FERRY_ENCRYPTION_KEY=$TEST_KEY "$FERRY_BIN" --db "$T_DIR/via-db.db" \
	source add only-here --type sqlite --set path="$SRC_DB" >/dev/null
[ -f "$T_DIR/via-db.db" ] || fail "--db PATH did not create the state store at PATH"
out=$(FERRY_DATABASE_URL="sqlite://$T_DIR/via-db.db" FERRY_ENCRYPTION_KEY=$TEST_KEY "$FERRY_BIN" source list)
assert_contains "$out" "only-here" "FERRY_DATABASE_URL=sqlite:///path opens the same store"
run ferry source list
assert_not_contains "$OUT" "only-here" "other stores are separate"

note "a state store written by a newer ferry is refused clearly"
cp "$STORE" "$T_DIR/newer.db"
sq "$T_DIR/newer.db" "PRAGMA user_version = 9999"
STORE=$T_DIR/newer.db expect_fail ferry source list
assert_error_msg
assert_contains "$ERR" "newer" "the message says the store is from a newer ferry"
assert_eq 9999 "$(sq "$T_DIR/newer.db" 'PRAGMA user_version')" "the newer store is left as it was"

# ---------------------------------------------------------------- apply / export
note "apply with \${ENV} interpolation"
APPLY_STORE=$T_DIR/apply.db
cat >"$T_DIR/ferry.yaml" <<'YAML'
sources:
  - name: shop
    type: postgres
    settings: {url: "${SHOP_URL}", tables: "${SHOP_TABLES}", cursor.items: id}
  - name: local
    type: sqlite
    settings: {path: "${LOCAL_PATH}"}
destinations:
  - name: warehouse
    url: "${WAREHOUSE_URL}"
connections:
  - name: shop-to-warehouse
    source: shop
    destination: warehouse
    streams: [items]
    namespace: prod
    mode: incremental
YAML
export SHOP_URL=$PGURL SHOP_TABLES=items LOCAL_PATH=$SRC_DB WAREHOUSE_URL=$PGDST
STORE=$APPLY_STORE run ferry apply "$T_DIR/ferry.yaml"
STORE=$APPLY_STORE run ferry source list --json
assert_eq "local,shop" "$(jf "$OUT" '[.[].name] | sort | join(",")')" "apply created the sources"
shop2_id=$(jf "$OUT" '.[] | select(.name == "shop") | .id')
STORE=$APPLY_STORE run ferry source show shop --json
assert_eq items "$(jf "$OUT" '.settings.tables')" "apply interpolated \${SHOP_TABLES}"
assert_eq id "$(jf "$OUT" '.settings["cursor.items"]')" "apply kept cursor.items"
STORE=$APPLY_STORE run ferry dest list --json
assert_eq warehouse "$(jf "$OUT" '.[].name')" "apply created the destination"
STORE=$APPLY_STORE run ferry connection list
assert_contains "$OUT" "shop-to-warehouse" "apply created the connection"
# The interpolated URL is the real one: a sync works.
STORE=$APPLY_STORE run ferry sync shop warehouse --json
assert_eq succeeded "$(jf "$OUT" '.status')" "sync with applied config"
assert_eq 1 "$(PGOPTIONS="-c search_path=prod,public" q dst "SELECT count(*) FROM items")" "applied source + destination moved the row"

note "re-apply updates instead of duplicating"
q src "CREATE TABLE more (id int PRIMARY KEY)" >/dev/null
SHOP_TABLES=items,more STORE=$APPLY_STORE run ferry apply "$T_DIR/ferry.yaml"
STORE=$APPLY_STORE run ferry source list --json
assert_eq 2 "$(jf "$OUT" 'length')" "re-apply does not duplicate sources"
assert_eq "$shop2_id" "$(jf "$OUT" '.[] | select(.name == "shop") | .id')" "re-apply keeps the id"
STORE=$APPLY_STORE run ferry source show shop --json
assert_eq items,more "$(jf "$OUT" '.settings.tables')" "re-apply updated the settings"
STORE=$APPLY_STORE run ferry dest list --json
assert_eq 1 "$(jf "$OUT" 'length')" "re-apply does not duplicate destinations"
STORE=$APPLY_STORE run ferry connection list
assert_eq 1 "$(grep -c 'shop-to-warehouse' <<<"$OUT")" "re-apply does not duplicate connections"

note "apply with an unset variable is refused"
cat >"$T_DIR/unset.yaml" <<'YAML'
destinations:
  - name: nowhere
    url: "${FERRY_TEST_SURELY_UNSET_VAR}"
YAML
STORE=$APPLY_STORE expect_exit 2 ferry apply "$T_DIR/unset.yaml"
assert_error_msg
assert_contains "$ERR" "FERRY_TEST_SURELY_UNSET_VAR" "an unset \${VAR} is named"

note "export re-applies cleanly, secrets as references"
STORE=$APPLY_STORE run ferry export
exported=$OUT
printf '%s\n' "$exported" >"$T_DIR/export.yaml"
assert_contains "$exported" '${' "export shows secrets as \${...} references"
assert_not_contains "$exported" "$PGURL" "export does not print the source URL"
assert_not_contains "$exported" "$PGDST" "export does not print the destination URL"
assert_contains "$exported" "shop-to-warehouse" "export includes connections"
assert_contains "$exported" "items,more" "export includes plain settings"
# Set every referenced variable from the real values, then apply into a new store.
mapfile -t refs < <(grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*\}' <<<"$exported" | sort -u | tr -d '${}')
[ "${#refs[@]}" -ge 2 ] || fail "export should reference at least the source URL and the destination URL, got: ${refs[*]}"
for v in "${refs[@]}"; do
	if grep -qi dest <<<"$v" || grep -qi warehouse <<<"$v"; then
		export "$v=$PGDST"
	else
		export "$v=$PGURL"
	fi
done
STORE=$T_DIR/reapplied.db run ferry apply "$T_DIR/export.yaml"
STORE=$T_DIR/reapplied.db run ferry source list --json
assert_eq "local,shop" "$(jf "$OUT" '[.[].name] | sort | join(",")')" "exported config re-applies"
STORE=$T_DIR/reapplied.db run ferry source show shop --json
assert_eq items,more "$(jf "$OUT" '.settings.tables')"
STORE=$T_DIR/reapplied.db run ferry connection list
assert_contains "$OUT" "shop-to-warehouse"
STORE=$T_DIR/reapplied.db run ferry sync shop warehouse --json
assert_eq succeeded "$(jf "$OUT" '.status')" "a sync works from the re-applied config"
# Applying the export onto the store it came from changes nothing.
STORE=$APPLY_STORE run ferry apply "$T_DIR/export.yaml"
STORE=$APPLY_STORE run ferry export
assert_eq "$exported" "$OUT" "apply(export) is a no-op"

pass
