#!/usr/bin/env bash
# Secrets never show: run every command with password-bearing URLs and grep
# all their output, and the state store file itself, for the plaintext.
. "$(dirname "$0")/lib.sh"

SRC_PW='SrcS3cretPa55w0rdQ7zx'
DST_PW='DstS3cretPa55w0rdK4vb'
BAD_PW='WrongS3cretPa55w0rdM2'
SRC=$(newdb src)
DST=$(newdb dst)
newdb dst2 >/dev/null
psql -X -q -d postgres -v ON_ERROR_STOP=1 <<SQL
DROP ROLE IF EXISTS ferry_secrets_src;
DROP ROLE IF EXISTS ferry_secrets_dst;
CREATE ROLE ferry_secrets_src LOGIN PASSWORD '$SRC_PW';
CREATE ROLE ferry_secrets_dst LOGIN PASSWORD '$DST_PW';
GRANT ALL ON DATABASE "$(dbname dst)" TO ferry_secrets_dst;
ALTER DATABASE "$(dbname dst)" OWNER TO ferry_secrets_dst;
SQL
q src "CREATE TABLE accounts (id int PRIMARY KEY, owner text, updated_at timestamptz NOT NULL DEFAULT now());
       INSERT INTO accounts SELECT i, 'owner ' || i, now() FROM generate_series(1, 20) i;
       GRANT SELECT ON accounts TO ferry_secrets_src;" >/dev/null
SRC_URL="postgres://ferry_secrets_src:$SRC_PW@127.0.0.1:$PGPORT/$(dbname src)"
DST_URL="postgres://ferry_secrets_dst:$DST_PW@127.0.0.1:$PGPORT/$(dbname dst)"

LOG=$T_DIR/all-output.log
: >"$LOG"
# rec EXPECTED-EXIT CMD...: run, keep stdout+stderr in $LOG.
rec() {
	local want=$1
	shift
	local cmdline=$*
	case "$want" in
	fail) expect_fail "$@" ;;
	any)
		"$@" >"$T_DIR/.out" 2>"$T_DIR/.err" || true
		OUT=$(cat "$T_DIR/.out") ERR=$(cat "$T_DIR/.err")
		_check_sanitizers "$T_DIR/.err" "$*"
		;;
	*) expect_exit "$want" "$@" ;;
	esac
	# The command line itself carries the passwords: keep it out of the log.
	cmdline=${cmdline//"$SRC_PW"/<src-pw>}
	cmdline=${cmdline//"$DST_PW"/<dst-pw>}
	cmdline=${cmdline//"$BAD_PW"/<bad-pw>}
	printf '$ %s\n%s\n%s\n' "$cmdline" "$OUT" "$ERR" >>"$LOG"
}

note "every command, with secrets in the URLs"
rec 0 ferry source add shop --type postgres --set url="$SRC_URL" --set cursor.accounts=updated_at
rec 0 ferry dest add dw --url "$DST_URL"
rec 0 ferry dest add lite --url "sqlite://$T_DIR/lite.db"
rec 0 ferry source list
rec 0 ferry source list --json
rec 0 ferry source show shop
assert_contains "$OUT" "********" "source show masks the URL"
rec 0 ferry source show shop --json
assert_eq "********" "$(jf "$OUT" '.settings.url')" "source show --json masks the URL"
rec 0 ferry source test shop
rec 0 ferry dest list
rec 0 ferry dest list --json
rec 0 ferry dest show dw
assert_contains "$OUT" "********" "dest show masks the URL"
rec 0 ferry dest show dw --json
assert_contains "$OUT" "********" "dest show --json masks the URL"
rec 0 ferry dest test dw
rec 0 ferry sync shop dw --full
rec 0 ferry sync shop dw --json
job=$(jf "$OUT" '.job_id')
assert_eq 20 "$(q dst 'SELECT count(*) FROM accounts')" "the sync through password-protected URLs worked"
rec 0 ferry sync shop dw --dry-run
rec 0 ferry sync shop lite --full --json
rec 0 ferry jobs
rec 0 ferry jobs --json
rec 0 ferry job show "$job"
rec 0 ferry job show "$job" --json
rec 0 ferry export
assert_contains "$OUT" '${' "export writes secrets as references"
rec 0 ferry doctor

note "failures with secrets in the URLs"
rec 0 ferry source add wrongpw --type postgres \
	--set url="postgres://ferry_secrets_src:$BAD_PW@127.0.0.1:$PGPORT/$(dbname src)"
rec 1 ferry sync wrongpw dw --json
assert_eq failed "$(jf "$OUT" '.status')" "a failed sync --json still prints its report"
rec 1 ferry sync wrongpw dw
rec 1 ferry source test wrongpw
rec 0 ferry source add downhost --type postgres --set url="postgres://ferry_secrets_src:$SRC_PW@127.0.0.1:1/x"
rec 1 ferry sync downhost dw
rec 1 ferry source test downhost
rec 0 ferry dest add downdst --url "postgres://ferry_secrets_dst:$DST_PW@127.0.0.1:1/x"
rec 1 ferry sync shop downdst
rec 1 ferry dest test downdst
rec fail ferry doctor
rec 0 ferry dest rm downdst
rec 0 ferry source rm downhost
# Runtime errors in the middle of a sync.
FERRY_FAULT=fail@write#1 rec 1 ferry sync shop dw --full --json
FERRY_FAULT=fail@read#1 rec 1 ferry sync shop dw
rec 0 ferry jobs
rec 0 ferry jobs --json
failed_job=$(jf "$OUT" 'map(select(.status == "failed")) | .[0].id')
assert_match "$failed_job" '^[0-9]+$' "jobs --json lists the failed jobs"
rec 0 ferry job show "$failed_job" --json
rec 0 ferry job show "$failed_job"
# A wrong key: the error must not print what it could not decrypt.
KEY=$OTHER_KEY rec fail ferry sync shop dw
KEY=$OTHER_KEY rec any ferry source show shop --json
KEY=$OTHER_KEY rec any ferry export
rec 0 ferry source rm wrongpw
rec 0 ferry source list --json

note "grep everything for the plaintext"
for pw in "$SRC_PW" "$DST_PW" "$BAD_PW"; do
	if grep -nF -- "$pw" "$LOG" >"$T_DIR/leak" 2>&1; then
		fail "a password appears in ferry's output:
$(head -n 5 "$T_DIR/leak")"
	fi
done
assert_contains "$(cat "$LOG")" "********"
assert_contains "$(cat "$LOG")" "FERRY_ENCRYPTION_KEY" "the wrong-key runs named the variable"
for f in "$STORE" "$STORE-wal" "$STORE-journal" "$T_DIR/lite.db"; do
	[ -f "$f" ] || continue
	for pw in "$SRC_PW" "$DST_PW" "$BAD_PW"; do
		if grep -qF -- "$pw" <<<"$(strings -a "$f")"; then
			fail "a password is stored in plaintext in $f"
		fi
		# Also as UTF-16 or split across lines it would still be there in the raw bytes.
		if grep -qaF -- "$pw" "$f"; then
			fail "a password is in the raw bytes of $f"
		fi
	done
done
# The password-bearing URLs are not stored in plaintext either (host + user part).
if grep -qaF -- "ferry_secrets_src:" "$STORE"; then
	fail "the source URL is stored in plaintext in the state store"
fi
# The destination does not get the secrets either (e.g. in _ferry_state).
if grep -qF -- "$SRC_PW" <<<"$(q dst "SELECT string_agg(t::text, '|') FROM _ferry_state t")"; then
	fail "a password is in the destination's _ferry_state"
fi
# Without the right key nothing stored can be read back in the clear.
KEY=$OTHER_KEY expect_fail ferry source test shop
assert_not_contains "$OUT$ERR" "$SRC_PW"
pass
