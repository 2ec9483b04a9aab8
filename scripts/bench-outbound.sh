#!/usr/bin/env bash
# bench-outbound.sh SEALPOST [WORKDIR] — outbound delivery, Sealpost against
# Postfix, in one sitting, to the same sink (`sealpost bench sink` on
# 127.0.0.3:2525, which times from the first arrival to the last):
#
#   Postfix: a private instance (Debian's package, defaults but for the
#   folders, relayhost = [127.0.0.3]:2525) gets N messages of SIZE bytes
#   from smtp-source while its smtp transport (the one relayhost mail
#   takes) is deferred, so that they wait in its queue untried; then the
#   deferral is lifted and the queue flushed: what the sink measures is
#   Postfix delivering from its queue. The script fails if Postfix tried a
#   delivery before the sink was up (a refused connection would mark the
#   destination dead and slow Postfix down unfairly).
#   Sealpost: `go test ./outbound -bench DeliverRelay` seals and queues N
#   messages, then delivers them from the sealed queue to the same sink.
#
# Both use 20 connections to the one destination (Postfix's
# default_destination_concurrency_limit), plain SMTP on loopback. Rounds
# alternate (ROUNDS, default 3). Run as root on Debian with postfix.
set -euo pipefail
SP=${1:?usage: bench-outbound.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-outbound}
N=${N:-5000} SIZE=${SIZE:-10240} ROUNDS=${ROUNDS:-3}
SINK=127.0.0.3:2525 PF=127.0.0.2:2526
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-outbound.sh: must run as root (Postfix)" >&2; exit 1; }

P=$W/postfix
stop_postfix() { postfix -c "$P/conf" stop >/dev/null 2>&1 || true; sleep 1; }
trap stop_postfix EXIT
rm -rf "$W"; mkdir -p "$P"/{conf,queue,data} "$W/results"
chmod 755 "$W" "$P"; chown postfix:postfix "$P/data"
{ echo "$PF inet n - n - - smtpd"; cat "$ROOT/internal/testenv/postfix-master.cf"; } >"$P/conf/master.cf"
conf() {
  cat >"$P/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $P/postfix.log
maillog_file_prefixes = $P
inet_interfaces = all
inet_protocols = ipv4
myhostname = mx.bench.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [${SINK%:*}]:${SINK#*:}
alias_maps =
defer_transports = $1
EOF
}

calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
rate() { calc "$(field "$1" ops) / $(field "$1" elapsed_s)"; }

postfix_round() {
  local out=$W/results/postfix$1.json
  stop_postfix; rm -rf "$P/queue"/* "$P/postfix.log"; conf smtp
  postfix -c "$P/conf" start >/dev/null
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/${PF%:*}/${PF#*:}") 2>/dev/null && break; sleep 0.1; done
  smtp-source -c -s 32 -m "$N" -l "$SIZE" -f bench@bench.test -t sink@remote.test "$PF" >/dev/null
  until [ "$(postqueue -c "$P/conf" -j | wc -l)" -ge "$N" ]; do sleep 0.2; done
  "$SP" bench sink --addr "$SINK" --messages "$N" --json >"$out" &
  local sink=$!
  sleep 0.5
  conf ""; postfix -c "$P/conf" reload >/dev/null 2>&1; postqueue -c "$P/conf" -f
  wait $sink
  if grep -q "Connection refused" "$P/postfix.log" 2>/dev/null; then
    echo "bench-outbound.sh: Postfix tried to deliver before the sink was up" >&2; exit 1
  fi
  echo "postfix round $1: $(rate "$out") msg/s"
}

sealpost_round() {
  local out=$W/results/sealpost$1.json
  "$SP" bench sink --addr "$SINK" --messages "$N" --json >"$out" &
  local sink=$!
  sleep 0.5
  (cd "$ROOT" && SEALPOST_BENCH_RELAY=$SINK SEALPOST_BENCH_SIZE=$SIZE go test -run XXX -bench DeliverRelay \
    -benchtime "${N}x" ./outbound >"$W/results/gobench$1.txt")
  wait $sink
  echo "sealpost round $1: $(rate "$out") msg/s"
}

echo "# outbound delivery, $N x $SIZE B, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), Postfix $(postconf -d -h mail_version 2>/dev/null), Sealpost $(git -C "$ROOT" rev-parse --short HEAD)"
for r in $(seq "$ROUNDS"); do
  postfix_round "$r"
  sealpost_round "$r"
done
