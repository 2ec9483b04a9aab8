#!/usr/bin/env bash
# bench-backup.sh SEALPOST [WORKDIR] — backup and restore of a region of
# 10,000 messages (issue 15: each under 30 s).
#
# A fresh `sealpost demo` gets MESSAGES (default 10,000) messages of 10 KiB
# appended to alice's INBOX (region ie) by `sealpost bench imap --fill`
# (4 connections): sealed, durable, as delivered mail is. Then, with the
# demo still running (an online backup), `sealpost backup` is timed; the
# demo is stopped and `sealpost restore` into a fresh data folder is timed,
# which includes checking every file's SHA-256 against the manifest and
# reading back every message blob. Finally a demo is started on the
# restored folder and one IMAP FETCH of all messages (bench imap --op
# fetch) checks that they are there to be read with alice's password.
# Prints a markdown table; WORKDIR keeps the logs.
set -euo pipefail
SP=${1:?usage: bench-backup.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-backup}
N=${MESSAGES:-10000} SIZE=10240
rm -rf "$W"; mkdir -p "$W"
demo=
stop_demo() {
  [ -n "$demo" ] && { kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; }
  demo=
}
trap stop_demo EXIT
start_demo() { # DATA OUT
  "$SP" demo --data "$1" >"$2" 2>"$2.log" & demo=$!
  for _ in $(seq 600); do grep -qx ready "$2" 2>/dev/null && return; sleep 0.1; done
  echo "bench-backup.sh: the demo did not start; see $2.log" >&2; exit 1
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
now() { date +%s.%N; }
IMAP=("$SP" bench imap --addr 127.0.0.1:1993 --tls --insecure --user alice@demo.example --pass alice-demo-pass)

start_demo "$W/demo" "$W/demo.out"
"${IMAP[@]}" --fill --messages "$N" --size "$SIZE" --op none --concurrency 4 --json >"$W/fill.json"

t0=$(now)
"$SP" backup --to "$W/backup" --data "$W/demo" >"$W/backup.out" 2>&1
t1=$(now)
stop_demo
t2=$(now)
"$SP" restore --from "$W/backup" --data "$W/restored" >"$W/restore.out" 2>&1
t3=$(now)

start_demo "$W/restored" "$W/restored.out"
"${IMAP[@]}" --op fetch --messages "$N" --concurrency 1 --json >"$W/fetch.json"
stop_demo
grep -q '"errors": 0' "$W/fetch.json" || { echo "bench-backup.sh: reading the restored mail failed; see $W/fetch.json" >&2; exit 1; }

size=$(du -sh --apparent-size "$W/backup" | cut -f1)
echo "| step | seconds | notes |"
echo "|---|---|---|"
echo "| backup, online ($N messages of $SIZE bytes) | $(secs "$t0" "$t1") | $size; $(tail -1 "$W/backup.out") |"
echo "| restore, checked and verified | $(secs "$t2" "$t3") | $(tail -1 "$W/restore.out") |"
