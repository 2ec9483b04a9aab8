#!/usr/bin/env bash
# bench-cost.sh SEALPOST [MODE...] — what one message costs the MX, by mode:
# off (checks off), on (SPF, DKIM and DMARC checked), filtered (checks on,
# and bob has the 50-rule Sieve script and a trained classifier, as in
# bench-filters.sh). Modes default to "off on filtered", run in that order.
#
# Each mode starts a fresh demo resolving through `sealpost bench dns` (the
# records of bench-inbound.sh), sends 5,000 DKIM-signed messages of 10 KB
# over 32 connections (N= to change), and prints the rate, the server's CPU
# time per message (/proc/PID/stat, user and system), the machine's idle
# share during the run, and, where `perf` can count system calls
# (tracepoints; root), the server's fdatasync and fsync calls per message:
# the pack's group syncs and SQLite's commits. The rates move with the
# machine's load; the CPU time and the fsync counts much less. TEXT=DIR
# fills the bodies with a folder's words (`bench smtp --text`); PPROF=PREFIX
# saves a 3 s CPU profile of each mode's server, 4 s into its run.
set -euo pipefail
SP=${1:?usage: bench-cost.sh SEALPOST_BINARY [off|on|filtered ...]}
shift
MODES=("$@"); [ ${#MODES[@]} -gt 0 ] || MODES=(off on filtered)
W=${W:-/tmp/sealpost-bench-cost} N=${N:-5000} DNS=127.0.0.1:5355
rm -rf "$W"; mkdir -p "$W"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

. "$(dirname "$0")/bench-lib.sh"
bench_dns "$SP" "$DNS" "$W"
filter_rules "$W/rules.sieve"

TEXTF=(); [ -n "${TEXT:-}" ] && TEXTF=(--text "$TEXT")
TCK=$(getconf CLK_TCK)
cputicks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
idle() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
canperf=; perf stat -e syscalls:sys_enter_fsync true >/dev/null 2>&1 && canperf=1

echo "# MX cost per message, $N x 10240 B DKIM-signed, ${TEXT:+text from $TEXT, }32 connections, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)"
for mode in "${MODES[@]}"; do
  d=$W/demo-$mode extra=()
  case $mode in
  off) extra=(--no-auth-checks) ;;
  on | filtered) ;;
  *) echo "bench-cost.sh: unknown mode $mode" >&2; exit 2 ;;
  esac
  prof=(); [ -n "${PPROF:-}" ] && prof=(--pprof 127.0.0.1:6063)
  "$SP" demo --data "$d" --dns "$DNS" "${prof[@]}" "${extra[@]}" >"$d.out" 2>"$d.log" & demo=$!
  for _ in $(seq 300); do grep -qx ready "$d.out" 2>/dev/null && break; sleep 0.1; done
  grep -qx ready "$d.out" || { echo "bench-cost.sh: the demo did not start (see $d.log)" >&2; exit 1; }
  if [ "$mode" = filtered ]; then
    sieve --upload --localsieve "$W/rules.sieve" --remotesieve rules >/dev/null
    sieve --activate --remotesieve rules >/dev/null
    train
  fi
  perfpid=
  if [ -n "$canperf" ]; then
    perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$demo" -o "$W/perf.$mode" & perfpid=$!
  fi
  cp=
  [ -z "${PPROF:-}" ] || { (sleep 4; curl -s -o "$PPROF.$mode" "http://127.0.0.1:6063/debug/pprof/profile?seconds=3") & cp=$!; }
  s0=$(cputicks "$demo"); read -r i0 t0 < <(idle)
  "$SP" bench smtp --addr 127.0.0.1:2525 --to bob@demo.example --concurrency 32 --messages "$N" --size 10240 \
    --from bench@bench.test --dkim-key "$W/dkim.pem" --dkim-selector s1 "${TEXTF[@]}" --json >"$W/res.$mode"
  s1=$(cputicks "$demo"); read -r i1 t1 < <(idle)
  syncs=
  if [ -n "$perfpid" ]; then
    kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true
    syncs=$(awk -F, -v n="$N" '/sys_enter_fdatasync/ { a = $1 } /sys_enter_fsync/ { b = $1 } END { printf "  fdatasync/msg %.3f  fsync/msg %.3f", a / n, b / n }' "$W/perf.$mode")
  fi
  [ -z "$cp" ] || wait "$cp"
  kill "$demo"; wait "$demo" 2>/dev/null || true
  rate=$(sed -n 's/^ *"ops_per_s": \([0-9.e+]*\),\{0,1\}$/\1/p' "$W/res.$mode" | head -1)
  awk -v m="$mode" -v r="$rate" -v s=$((s1 - s0)) -v tck="$TCK" -v n="$N" -v di=$((i1 - i0)) -v dt=$((t1 - t0)) -v x="$syncs" \
    'BEGIN { printf "%-8s %7.1f msg/s  server %4.0f µs CPU/msg  idle %2.0f%%%s\n", m, r, s / tck / n * 1e6, di / dt * 100, x }'
  rm -rf "$d"; sync; sleep 2
done
