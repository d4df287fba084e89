#!/usr/bin/env bash
# Install the build and test packages if any is missing (Debian 12), then
# configure and build ferry.
#
#   bash scripts/setup.sh              # build/       (RelWithDebInfo)
#   bash scripts/setup.sh --sanitize   # build-asan/  (AddressSanitizer + UBSan)
#
# Idempotent: packages are only installed when `dpkg -s` says one is missing,
# and cmake only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libpq-dev libsqlite3-dev libsodium-dev
	libjansson-dev libyaml-dev libyajl-dev libcurl4-openssl-dev libcmocka-dev libmicrohttpd-dev
	postgresql postgresql-contrib sqlite3 jq binutils iproute2 procps curl
	nodejs default-jre-headless)
# nodejs + default-jre-headless: the API test peers (tests/peers: json-server,
# json-graphql-server, stripe-stateful-mock, WireMock), installed with npm by
# tests/peers/install.sh when testing.

sanitize=0
for arg in "$@"; do
	case "$arg" in
	--sanitize) sanitize=1 ;;
	-h | --help)
		sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "setup.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

missing=()
for p in "${PACKAGES[@]}"; do
	if ! grep -q '^Status: install ok installed' <<<"$(dpkg -s "$p" 2>/dev/null)"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "setup.sh: installing ${missing[*]}" >&2
	SUDO=()
	if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's nodejs comes without npm (NodeSource's includes it).
if ! command -v npm >/dev/null; then
	echo "setup.sh: installing npm" >&2
	SUDO=()
	if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi

# The Debian postgresql package puts initdb/pg_ctl under /usr/lib/postgresql/N/bin;
# the test harness finds them there, nothing to do here.

jobs=$(nproc 2>/dev/null || echo 2)
if ((sanitize)); then
	dir=build-asan
	cmake -S . -B "$dir" -DFERRY_SANITIZE=ON >/dev/null
else
	dir=build
	cmake -S . -B "$dir" >/dev/null
fi
cmake --build "$dir" -j"$jobs"
