#!/usr/bin/env bash
# bench-logins.sh SEALPOST [WORKDIR] — issue 12's login-heavy IMAP mix, in one
# sitting, with the same client: 5 connections for 10 s of whole sessions
# (connect over TLS, LOGIN, SELECT, FETCH, STORE, APPEND, STORE, UID
# EXPUNGE, LOGOUT: `sealpost bench imap --op session`) against
#   - Sealpost with its default Argon2id cost (64 MiB, 3 passes), the
#     authentication cache on (the default) and off;
#   - Dovecot (scripts/baseline) with the password stored in plain (with
#     Debian's default login processes, and in high-performance mode), and
#     as Argon2id of the same memory and passes (one lane: libsodium's).
# Sealpost's "cache off" still shares the keys of an account's open
# sessions with its next login (five clients overlap): the cache is what
# keeps them after the last session ends.
# Prints a markdown table. Run as root (the baseline needs it).
set -euo pipefail

SP=${1:?usage: bench-logins.sh SEALPOST_BINARY [WORKDIR]}
SP=$(realpath "$SP")
W=${2:-/tmp/sealpost-bench-logins}
HERE=$(cd "$(dirname "$0")" && pwd)
R=$W/results
rm -rf "$W"; mkdir -p "$R"
SECS=${SECS:-10}

field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
session() { # NAME ADDR USER PASS
  "$SP" bench imap --addr "$2" --tls --insecure --user "$3" --pass "$4" \
    --fill --messages 20 --size 4096 --op session --concurrency 5 --hold "${SECS}s" --json >"$R/$1.json"
}

sealpost_run() { # NAME CACHE_TIME
  local d=$W/sp-$1
  mkdir -p "$d"
  cat >"$d/sealpost.toml" <<TOML
hostname = "mail.bench.test"
data_dir = "$d/data"
[[region]]
id = "eu"
name = "Europe"
country = "DE"
zones = ["EU"]
[listen]
imaps = "127.0.0.1:1993"
[tls]
self_signed = true
[auth]
cache_time = "$2"
TOML
  "$SP" domain add bench.test --config "$d/sealpost.toml" >/dev/null
  echo bench-pass | "$SP" account add bench@bench.test --config "$d/sealpost.toml" >/dev/null
  "$SP" serve --config "$d/sealpost.toml" >"$d/serve.log" 2>&1 & local pid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/1993) 2>/dev/null && break; sleep 0.1; done
  session "$1" 127.0.0.1:1993 bench@bench.test bench-pass
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

dovecot_run() { # NAME SCHEME [EXTRA CONFIG]
  PASS_SCHEME=$2 ARGON2ID_HASH=$HASH DOVECOT_EXTRA=${3:-} "$HERE/baseline/run.sh" "$W/baseline" >"$W/baseline-$1.log" 2>&1
  session "$1" 127.0.0.1:1994 bench@baseline.test bench-pass
  "$HERE/baseline/stop.sh" "$W/baseline" >/dev/null 2>&1
  rm -rf "$W/baseline/mail"/*
}

HASH=$(echo bench-pass | "$SP" bench passhash --time 3 --memory-kib 65536 --threads 1)
sealpost_run sealpost-cache 10m
sealpost_run sealpost-nocache 0s
dovecot_run dovecot-plain PLAIN
# Dovecot's "high-performance mode" for login processes, which its
# documentation recommends for busy servers (Debian's default starts one
# imap-login process per connection).
dovecot_run dovecot-plain-hp PLAIN 'service imap-login {
  service_count = 0
  process_min_avail = 2
}'
dovecot_run dovecot-argon2id ARGON2ID

row() { # LABEL JSON
  local s; s=$(field "$2" elapsed_s)
  printf '| %s | %s | %s | %s | %s | %s ms | %s ms | %s |\n' "$1" "$(field "$2" commands)" \
    "$(calc "$(field "$2" commands)/$s")" "$(field "$2" logins)" "$(calc "$(field "$2" logins)/$s")" \
    "$(calc "$(field "$2" p50)" 1)" "$(calc "$(field "$2" p99)" 1)" "$(field "$2" errors)"
}
{
  echo "### Logins: Sealpost $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null) vs Dovecot $(dovecot --version | cut -d' ' -f1), $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)"
  echo
  echo "| server | commands | commands/s | logins | logins/s | session p50 | session p99 | errors |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  row "Sealpost, Argon2id 64 MiB t=3 p=2, auth cache on" "$R/sealpost-cache.json"
  row "Sealpost, same, auth cache off" "$R/sealpost-nocache.json"
  row "Dovecot, plain passwords" "$R/dovecot-plain.json"
  row "Dovecot, plain passwords, login high-performance mode" "$R/dovecot-plain-hp.json"
  row "Dovecot, Argon2id 64 MiB t=3 p=1" "$R/dovecot-argon2id.json"
  echo
  echo "Each: sealpost bench imap --addr ADDR --tls --insecure --user U --pass P --fill --messages 20 --size 4096 --op session --concurrency 5 --hold ${SECS}s"
} | tee "$R/results.md"
