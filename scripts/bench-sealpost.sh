#!/usr/bin/env bash
# bench-sealpost.sh SEALPOST [WORKDIR] — run docs/BENCHMARKS.md's commands
# against a fresh `sealpost demo` (default WORKDIR /tmp/sealpost-bench), the
# same commands scripts/baseline/bench.sh runs against Postfix + Dovecot, and
# print a markdown table. Run the two back to back to quote ratios.
set -euo pipefail

SP=${1:?usage: bench-sealpost.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench}
R=$W/results
rm -rf "$W"; mkdir -p "$R"
# --no-auth-checks: the baseline checks no SPF, DKIM or DMARC either (and the
# benchmark's sender publishes none); smtpserver's BenchmarkDeliver10KBChecked
# measures what the checks cost.
"$SP" demo --data "$W/data" --no-auth-checks >"$W/demo.out" 2>"$W/demo.log" & demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -qx ready "$W/demo.out" 2>/dev/null && break; sleep 0.1; done

SMTP=("$SP" bench smtp --addr 127.0.0.1:2525 --user bob@demo.example --to bob@demo.example
      --concurrency 32 --messages 5000 --size 10240)
IMAP=("$SP" bench imap --addr 127.0.0.1:1993 --tls --insecure --user alice@demo.example
      --pass alice-demo-pass)
FILL=("${IMAP[@]}" --fill --messages 10000 --size 10240 --op none)
FETCH=("${IMAP[@]}" --concurrency 2 --op fetch)
SEARCH=("${IMAP[@]}" --concurrency 2 --op search --word sealpostbench --repeat 5)
IDLE=("${IMAP[@]}" --concurrency 50 --op idle --idle-conns 5000 --hold 20s --pid "$demo")

calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
run() {
  local name=$1; shift
  "$@" --json >"$R/$name.json" || { echo "bench-sealpost.sh: $name failed" >&2; exit 1; }
  [ "$(field "$R/$name.json" errors)" = 0 ] || echo "bench-sealpost.sh: $name had errors" >&2
}
row() {
  printf '| %s | %s | %s | %s ms | %s ms | %s s |\n' "$1" "$(calc "$(field "$2" ops_per_s)")" \
    "$(calc "$(field "$2" mb_per_s)" 2)" "$(calc "$(field "$2" p50)" 2)" \
    "$(calc "$(field "$2" p99)" 2)" "$(calc "$(field "$2" elapsed_s)" 2)"
}

run smtp "${SMTP[@]}"
run fill "${FILL[@]}"
for i in 1 2 3 4 5; do run fetch$i "${FETCH[@]}"; done
run search "${SEARCH[@]}"
run idle "${IDLE[@]}"

{
  echo "### Sealpost $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)"
  echo
  echo "| run | ops/s | MB/s | p50 | p99 | elapsed |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  row "SMTP, 250 = sealed and durable in the mailbox" "$R/smtp.json"
  row "IMAP APPEND (--fill)" "$R/fill.json"
  for i in 1 2 3 4 5; do row "IMAP fetch BODY.PEEK[] over TLS, run $i" "$R/fetch$i.json"; done
  row "IMAP search BODY" "$R/search.json"
  echo
  echo "IDLE: $(field "$R/idle.json" held) connections held; server VmRSS $(field "$R/idle.json" rss_before_kb) kB before, $(field "$R/idle.json" rss_after_kb) kB with all idle."
  echo "Search matched $(field "$R/search.json" matches) messages per search. Commands (--json added to each):"
  echo
  echo '```'
  for c in SMTP FILL FETCH SEARCH IDLE; do
    declare -n a=$c; printf 'sealpost'; printf ' %s' "${a[@]:1}"; echo; unset -n a
  done
  echo '```'
} | tee "$R/results.md"
