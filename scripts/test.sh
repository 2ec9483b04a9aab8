#!/usr/bin/env bash
# The README's test command. Installs the outside programs the tests drive
# (gnupg, isync's mbsync, python3, postgresql) when missing and allowed (root
# with apt); without them those tests skip and say why (or fail, when
# SEALPOST_REQUIRE_TOOLS is set, as in CI). Then go vet and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v mbsync >/dev/null || need+=(isync)
command -v python3 >/dev/null || need+=(python3)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; } ||
      echo "could not install ${need[*]}: the tests that need them will skip"
  else
    echo "missing ${need[*]} and not root: the tests that need them will skip"
  fi
fi

# The race detector needs cgo and a C compiler; without one, run plain.
race=-race
if ! command -v "$(go env CC)" >/dev/null 2>&1 || [ "$(go env CGO_ENABLED)" != 1 ]; then
  echo "no C compiler for cgo: running the tests without -race"
  race=
fi
go vet ./...
go test $race -count=1 -timeout 20m ./...
