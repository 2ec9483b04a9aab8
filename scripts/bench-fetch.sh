#!/usr/bin/env bash
# bench-fetch.sh SEALPOST [WORKDIR] — IMAP FETCH BODY.PEEK[] over TLS,
# Sealpost against Dovecot, in one sitting (issue 13's FETCH targets: at
# least 2x Dovecot with 1 and with 4 connections, and for first reads).
#
# Both servers get the same 5,000 messages of 10 KiB, appended by the same
# client (`sealpost bench imap --fill`, 4 connections): Dovecot is the stock
# private instance of scripts/baseline (started here; Maildir, TLS in its
# login processes as packaged), Sealpost a fresh `sealpost demo`. After the
# fill, one SELECT of Dovecot's INBOX moves the mail from new/ to cur/ as any
# client's first SELECT does, so Dovecot reads it as its users' mailboxes
# are. Then ROUNDS rounds (default 3), each alternating
#   dovecot c1, sealpost c1, dovecot c4, sealpost c4, sealpost first read
# where cN is `bench imap --op fetch --concurrency N` of all 5,000 (session
# keys cached on Sealpost's side) and "first read" fetches, with one
# connection, 5,000 messages appended just before into a new mailbox
# (first$ROUND): none has a cached session key. Beside each rate the
# script reports the server's CPU time for the run (Sealpost: the demo
# process; Dovecot: its master plus the imap and imap-login children it
# reaped), which is steadier than wall-clock rates on a shared machine.
# Each round also fetches from Dovecot WITHOUT TLS (port 1144, plaintext
# logins allowed for this purpose by a second passwd-file, as the
# independent run's "no encryption" Dovecot did): Dovecot terminates TLS in
# its login processes and relays every byte to the imap process, which on
# this machine caps it at about 50 MB/s; without TLS it serves 130-180
# MB/s. Sealpost takes no login without TLS, so it is measured over TLS
# only. The ratio column compares like with like (both over TLS); the
# last column is against Dovecot without TLS.
# Results: WORKDIR/results/*.json and a markdown table on stdout.
set -euo pipefail
SP=${1:?usage: bench-fetch.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-fetch}
ROUNDS=${ROUNDS:-3} N=${MESSAGES:-5000} SIZE=10240
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-fetch.sh: must run as root (the Dovecot baseline)" >&2; exit 1; }
rm -rf "$W"; mkdir -p "$W/results"
R=$W/results
demo=
cleanup() {
  [ -n "$demo" ] && { kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; }
  "$ROOT/scripts/baseline/stop.sh" "$W/baseline" >/dev/null 2>&1 || true
}
trap cleanup EXIT

calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
# cpu PID [children]: CPU seconds of PID (utime+stime), with its reaped
# children's (cutime+cstime) if asked.
cpu() {
  awk -v c="${2:-}" -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; printf "%.2f", t / hz }' "/proc/$1/stat"
}

"$ROOT/scripts/baseline/run.sh" "$W/baseline" >"$W/baseline.out" 2>&1
dove=$(tr -d ' \n' <"$W/baseline/dovecot/run/master.pid")
"$SP" demo --data "$W/demo" --no-auth-checks >"$W/demo.out" 2>"$W/demo.log" & demo=$!
for _ in $(seq 300); do grep -qx ready "$W/demo.out" 2>/dev/null && break; sleep 0.1; done

DOV=("$SP" bench imap --addr 127.0.0.1:1994 --tls --insecure --user bench@baseline.test --pass bench-pass)
DOVPLAIN=("$SP" bench imap --addr 127.0.0.1:1144 --user bench@baseline.test --pass bench-pass)
SEA=("$SP" bench imap --addr 127.0.0.1:1993 --tls --insecure --user alice@demo.example --pass alice-demo-pass)
FILL=(--fill --messages "$N" --size "$SIZE" --op none --concurrency 4)

# run NAME SERVER CMD...: one bench run into $R/NAME.json, and the server's
# CPU seconds for it into $R/NAME.cpu.
run() {
  local name=$1 server=$2; shift 2
  local c0 c1
  if [ "$server" = dovecot ]; then c0=$(cpu "$dove" children); else c0=$(cpu "$demo"); fi
  "$@" --json >"$R/$name.json" || { echo "bench-fetch.sh: $name failed" >&2; exit 1; }
  [ "$(field "$R/$name.json" errors)" = 0 ] || { echo "bench-fetch.sh: $name had errors" >&2; exit 1; }
  if [ "$server" = dovecot ]; then
    sleep 0.5 # the session's processes exit and are reaped after LOGOUT
    c1=$(cpu "$dove" children)
  else
    c1=$(cpu "$demo")
  fi
  calc "$c1 - $c0" 2 >"$R/$name.cpu"
}

run fill-dovecot dovecot "${DOV[@]}" "${FILL[@]}"
python3 - <<'PY'
import imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", 1994, ssl_context=ctx)
c.login("bench@baseline.test", "bench-pass"); c.select("INBOX"); c.logout()
PY
run fill-sealpost sealpost "${SEA[@]}" "${FILL[@]}"
# Plaintext logins for the no-TLS runs (scripts/baseline names the passwd
# file after %{secured}, "secured" on a plaintext loopback connection).
cp -p "$W/baseline/dovecot/users-TLS" "$W/baseline/dovecot/users-secured"

echo "# FETCH BODY.PEEK[] over TLS, $N x $SIZE B, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), Sealpost $(git -C "$ROOT" rev-parse --short HEAD), Dovecot $(dovecot --version | cut -d' ' -f1)"
echo
echo "| round | run | Dovecot MB/s | Sealpost MB/s | ratio | Dovecot CPU s | Sealpost CPU s | Dovecot without TLS MB/s | ratio to it |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in $(seq "$ROUNDS"); do
  for c in 1 4; do
    run "dovecot-c$c-$r" dovecot "${DOV[@]}" --op fetch --concurrency "$c"
    run "sealpost-c$c-$r" sealpost "${SEA[@]}" --op fetch --concurrency "$c"
    run "dovecotplain-c$c-$r" dovecot "${DOVPLAIN[@]}" --op fetch --concurrency "$c"
    d=$(field "$R/dovecot-c$c-$r.json" mb_per_s) s=$(field "$R/sealpost-c$c-$r.json" mb_per_s) p=$(field "$R/dovecotplain-c$c-$r.json" mb_per_s)
    echo "| $r | $c connection(s), keys cached | $(calc "$d") | $(calc "$s") | $(calc "$s / $d" 2) | $(cat "$R/dovecot-c$c-$r.cpu") | $(cat "$R/sealpost-c$c-$r.cpu") | $(calc "$p") | $(calc "$s / $p" 2) |"
  done
  "${SEA[@]}" --mailbox "first$r" "${FILL[@]}" --json >"$R/fill-first$r.json"
  run "sealpost-first-$r" sealpost "${SEA[@]}" --mailbox "first$r" --op fetch --concurrency 1
  d=$(field "$R/dovecot-c1-$r.json" mb_per_s) s=$(field "$R/sealpost-first-$r.json" mb_per_s)
  p=$(field "$R/dovecotplain-c1-$r.json" mb_per_s)
  echo "| $r | first read, 1 connection (Dovecot: its c1 of this round) | $(calc "$d") | $(calc "$s") | $(calc "$s / $d" 2) | | $(cat "$R/sealpost-first-$r.cpu") | $(calc "$p") | $(calc "$s / $p" 2) |"
done
echo
echo "Fill (APPEND, 4 connections): Dovecot $(calc "$(field "$R/fill-dovecot.json" ops_per_s)") msg/s, Sealpost $(calc "$(field "$R/fill-sealpost.json" ops_per_s)") msg/s."
