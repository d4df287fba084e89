#!/usr/bin/env bash
# install.sh - installs the API test peers (tests/peers/package-lock.json,
# exact versions) into tests/peers/node_modules with `npm ci`.
#
# Skips the install when node_modules was made from the same lock file (a
# hash of it is kept in node_modules/.ferry-lock-sha256). Needs node and npm
# (the nodejs package), and java for WireMock (default-jre-headless); both
# are in scripts/setup.sh's package list.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null; then
	echo "install.sh: npm is missing: install the nodejs (and npm) package" >&2
	exit 1
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.ferry-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
echo "install.sh: npm ci in tests/peers (json-server, json-graphql-server, stripe-stateful-mock, wiremock)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
