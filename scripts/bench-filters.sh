#!/usr/bin/env bash
# bench-filters.sh SEALPOST [WORKDIR] — MX ingest with and without the
# recipient's filters, in one sitting (issue 14's target: with an active
# 50-rule Sieve script and the classifier on, at least 80% of the rate
# without them).
#
# Each round starts a fresh demo resolving through `sealpost bench dns`
# (SPF, DMARC and a DKIM key for bench.test, as scripts/bench-inbound.sh
# does: the MX's checks are on in both rounds), then sends 5,000 DKIM-signed
# messages of 10 KB over 32 connections to bob with `sealpost bench smtp`.
# In a "filtered" round bob first gets, as a user would: a 50-rule script
# uploaded and activated with sieve-connect over ManageSieve, and his
# classifier trained over IMAP (60 spam moved into Junk, 60 ham marked
# $NotJunk); after the round one delivered message must carry
# X-Spam-Score (bayes), or the script fails. Rounds alternate plain,
# filtered (ROUNDS, default 3). With TEXT=DIR the bodies are filled with
# the words of the files in DIR (`bench smtp --text`), e.g.
# TEXT=$(scripts/spamcorpus.sh)/easy-ham-1: the vocabulary of real mail,
# which is what the classifier's cost depends on (bench smtp's own words
# are few). The summary gives the medians and filtered/plain. With
# PPROF=PREFIX each round's server is profiled for 2 s of its run, into
# PREFIX.MODE.ROUND (go tool pprof).
# CLIENT=BINARY runs `bench smtp` (and `bench dns`) from another sealpost
# binary than the server's, so that two servers are compared with one
# client.
set -euo pipefail
SP=${1:?usage: bench-filters.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-filters}
ROUNDS=${ROUNDS:-3} DNS=127.0.0.1:5354
rm -rf "$W"; mkdir -p "$W/results"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
command -v sieve-connect >/dev/null || { echo "bench-filters.sh: needs sieve-connect (apt install sieve-connect)" >&2; exit 1; }

. "$(dirname "$0")/bench-lib.sh"
bench_dns "${CLIENT:-$SP}" "$DNS" "$W"

# The 50-rule script (into "$W/rules.sieve"), sieve() and train().
filter_rules "$W/rules.sieve"

# check_scored: the last message bob got was judged by his classifier.
check_scored() {
  python3 - <<'PY'
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", 1993, ssl_context=ctx)
c.login("bob@demo.example", "bob-demo-pass")
c.select("INBOX", readonly=True)
typ, data = c.fetch("*", "(BODY.PEEK[HEADER.FIELDS (X-SPAM-SCORE)])")
h = data[0][1].decode()
if "(bayes)" not in h:
    sys.exit("bench-filters.sh: the last message was not scored: %r" % h)
PY
}

FLAGS=(--from bench@bench.test --dkim-key "$W/dkim.pem" --dkim-selector s1)
[ -n "${TEXT:-}" ] && FLAGS+=(--text "$TEXT")
SMTP=("${CLIENT:-$SP}" bench smtp --addr 127.0.0.1:2525 --to bob@demo.example --concurrency 32 --messages 5000 --size 10240 "${FLAGS[@]}")
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }

round() { # ROUND MODE
  local d=$W/demo-$1-$2 out=$W/results/sealpost-$2-$1.json
  local prof=(); [ -n "${PPROF:-}" ] && prof=(--pprof 127.0.0.1:6062)
  "$SP" demo --data "$d" --dns "$DNS" "${prof[@]}" >"$d.out" 2>"$d.log" & local demo=$!
  for _ in $(seq 300); do grep -qx ready "$d.out" 2>/dev/null && break; sleep 0.1; done
  if [ "$2" = filtered ]; then
    sieve --upload --localsieve "$W/rules.sieve" --remotesieve rules >/dev/null
    sieve --activate --remotesieve rules >/dev/null
    train
  fi
  local cp=
  if [ -n "${PPROF:-}" ]; then
    # After bench smtp has signed its messages (about 2.5 s here).
    (sleep 4; curl -s -o "$PPROF.$2.$1" "http://127.0.0.1:6062/debug/pprof/profile?seconds=2") & cp=$!
  fi
  "${SMTP[@]}" --json >"$out"
  [ -z "$cp" ] || wait "$cp"
  [ "$(field "$out" errors)" = 0 ] || { echo "bench-filters.sh: $2 round $1 had errors" >&2; exit 1; }
  [ "$2" = filtered ] && check_scored
  kill $demo; wait $demo 2>/dev/null || true
  rm -rf "$d"
  # The next round starts with this one's data written back and its
  # deletion done, not competing with them for the disk.
  sync; sleep 2
  echo "sealpost $2, round $1: $(calc "$(field "$out" ops_per_s)") msg/s"
  echo "$(calc "$(field "$out" ops_per_s)")" >>"$W/results/$2.rates"
}

# median FILE: the median of the numbers in FILE, one a line.
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# MX ingest, 5000 x 10240 B DKIM-signed, ${TEXT:+text from $TEXT, }32 connections, checks on, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), Sealpost $(git -C "$(dirname "$0")/.." rev-parse --short HEAD)"
for r in $(seq "$ROUNDS"); do
  round "$r" plain
  round "$r" filtered
done
plain=$(median "$W/results/plain.rates") filtered=$(median "$W/results/filtered.rates")
echo "median: plain $plain msg/s, filtered $filtered msg/s, filtered/plain $(awk "BEGIN { printf \"%.2f\", $filtered / $plain }") (target >= 0.80)"
echo "per round filtered/plain: $(paste "$W/results/plain.rates" "$W/results/filtered.rates" | awk '{ printf "%s%.2f", sep, $2 / $1; sep = " " }')"
