#!/usr/bin/env bash
# soak.sh SEALPOST [WORKDIR] — issue 12's soak. A server with the default
# Argon2id cost carries a moderate legitimate load from 127.0.0.1 (SMTP
# delivery to bob in bursts of 50 a second or so, two clients running
# whole IMAP sessions as alice, 50 connections in IDLE, a web request
# every half second: it leaves the machine room to spare, so that what the
# attack costs shows) for
# QUIET seconds alone (default 120), then for ATTACK seconds (default 600)
# while scripts/soak_attack.py runs its attacker mix from 127.0.0.2 and up
# (login floods, slow clients, idle connections, oversized DATA, recipient
# probing). It reports each legitimate operation's p99 in both phases, the
# server's peak RSS in each, and whether every message accepted reached
# bob's INBOX. A benchmark-style script: not part of `go test`.
set -euo pipefail

SP=${1:?usage: soak.sh SEALPOST_BINARY [WORKDIR]}
SP=$(realpath "$SP")
W=${2:-/tmp/sealpost-soak}
QUIET=${QUIET:-120} ATTACK=${ATTACK:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W"; mkdir -p "$W/quiet" "$W/attack"
MX=127.0.0.1:2525 SUB=127.0.0.1:2587 IMAPS=127.0.0.1:1993 WEB=127.0.0.1:8080

cat >"$W/sealpost.toml" <<TOML
hostname = "mail.soak.test"
data_dir = "$W/data"
[[region]]
id = "eu"
name = "Europe"
country = "DE"
zones = ["EU"]
[listen]
smtp = "$MX"
submission = "$SUB"
imaps = "$IMAPS"
[legal]
web = "$WEB"
[tls]
self_signed = true
[mx]
no_auth_checks = true
TOML
"$SP" domain add soak.test --config "$W/sealpost.toml" >/dev/null
echo alice-pass | "$SP" account add alice@soak.test --config "$W/sealpost.toml" >/dev/null
echo bob-pass | "$SP" account add bob@soak.test --config "$W/sealpost.toml" >/dev/null
"$SP" serve --config "$W/sealpost.toml" >"$W/serve.log" 2>&1 & SERVER=$!
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/1993) 2>/dev/null && break; sleep 0.1; done

IMAP=("$SP" bench imap --addr "$IMAPS" --tls --insecure)
# Alice's mailbox gets 50 messages for her sessions to work on.
"${IMAP[@]}" --user alice@soak.test --pass alice-pass --fill --messages 50 --size 10240 --op none >/dev/null

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
phase() { # DIR SECONDS: legitimate traffic for SECONDS, results in DIR
  local d=$1 end=$(( $(date +%s) + $2 )) i=0
  "${IMAP[@]}" --user bob@soak.test --pass bob-pass --op idle --idle-conns 50 --concurrency 10 \
    --hold "$(( $2 - 5 ))s" --json >"$d/idle.json" 2>/dev/null &
  ( while [ "$(date +%s)" -lt "$end" ]; do rss >>"$d/rss"; sleep 1; done ) &
  ( while [ "$(date +%s)" -lt "$end" ]; do
      curl -s -o /dev/null -w '%{time_total}\n' "http://$WEB/log/checkpoint" >>"$d/web" || echo fail >>"$d/web"
      sleep 0.5
    done ) &
  ( while [ "$(date +%s)" -lt "$end" ]; do
      i=$((i + 1)) # (not in the redirection: the command's own process expands that)
      "${IMAP[@]}" --user alice@soak.test --pass alice-pass --op session --concurrency 2 --hold 20s \
        --json >"$d/session-$i.json" 2>/dev/null || true
    done ) &
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    "$SP" bench smtp --addr "$MX" --to bob@soak.test --concurrency 2 --messages 50 --size 10240 \
      --json >"$d/smtp-$i.json" 2>/dev/null || true
    sleep 1
  done
  wait $(jobs -p | grep -v "^$SERVER$") 2>/dev/null || true
}

cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; } # utime + stime, in clock ticks
c0=$(cpu)
phase "$W/quiet" "$QUIET"
c1=$(cpu)
# The attacker runs at the lowest CPU priority: on loopback it shares the
# machine with the server, and its own work (Python making TLS handshakes,
# dot-stuffing 100 MB messages) would otherwise be charged to the server;
# on the Internet it runs on the attacker's machines. The server still
# serves every byte it sends. Its CPU time is reported per phase.
nice -n 19 python3 "$HERE/soak_attack.py" "$MX" "$SUB" "$IMAPS" "$WEB" "$ATTACK" >"$W/attack/attacks.txt" 2>&1 & ATT=$!
phase "$W/attack" "$ATTACK"
c2=$(cpu)
wait $ATT || true

calc() { awk "BEGIN { printf \"%.0f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
p99s() { for f in "$@"; do [ -s "$f" ] && field "$f" p99; done | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f (median of %d runs), worst %.1f", a[int((NR+1)/2)], NR, a[NR]}'; }
webp99() { grep -v fail "$1" | sort -n | awk '{a[NR]=$1*1000} END {printf "%.1f (n=%d)", a[int(NR*0.99+0.5)], NR}'; }
sum() { for f in "$@"; do [ -s "$f" ] && field "$f" ops; done | awk '{s+=$1} END {print s+0}'; }
accepted=$(sum "$W"/quiet/smtp-*.json "$W"/attack/smtp-*.json)
inbox=$("${IMAP[@]}" --user bob@soak.test --pass bob-pass --concurrency 1 --op fetch --json | sed -n 's/^  "ops": \([0-9]*\),/\1/p')
{
  echo "### Soak: Sealpost $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), quiet ${QUIET}s, attack ${ATTACK}s"
  echo
  echo "| legitimate operation | p99 quiet (ms) | p99 under attack (ms) |"
  echo "| --- | --- | --- |"
  echo "| SMTP delivery of 10 KiB (250 = durable) | $(p99s "$W"/quiet/smtp-*.json) | $(p99s "$W"/attack/smtp-*.json) |"
  echo "| IMAP session over TLS (login … logout) | $(p99s "$W"/quiet/session-*.json) | $(p99s "$W"/attack/session-*.json) |"
  echo "| web GET /log/checkpoint | $(webp99 "$W/quiet/web") | $(webp99 "$W/attack/web") |"
  echo
  hz=$(getconf CLK_TCK)
  echo "Server CPU: quiet $(calc "($c1-$c0)/$hz/$QUIET*100") % of a core, under attack $(calc "($c2-$c1)/$hz/$ATTACK*100") %."
  echo "Server peak VmRSS: quiet $(sort -n "$W/quiet/rss" | tail -1) kB, under attack $(sort -n "$W/attack/rss" | tail -1) kB."
  echo "IDLE connections held: quiet $(field "$W/quiet/idle.json" held), under attack $(field "$W/attack/idle.json" held)."
  echo "Messages accepted with 250: $accepted; in bob's INBOX at the end: $inbox."
  echo "Web requests failed: quiet $(grep -c fail "$W/quiet/web" || true), under attack $(grep -c fail "$W/attack/web" || true)."
  echo "Attacker: $(cat "$W/attack/attacks.txt")"
} | tee "$W/results.md"
