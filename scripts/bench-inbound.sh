#!/usr/bin/env bash
# bench-inbound.sh SEALPOST [WORKDIR] — inbound SMTP ingest with and without
# the MX's SPF, DKIM and DMARC checks, and against Postfix + Dovecot, in one
# sitting (issue 11's inbound targets: checks cost at most 10%, and Sealpost
# stays at least 8x the baseline's end-to-end rate).
#
# The sender is bench@bench.test. `sealpost bench dns` on 127.0.0.1:5353
# publishes its SPF (ip4:127.0.0.0/8), DMARC (p=reject) and a 2048-bit RSA
# DKIM key made here with openssl; `sealpost bench smtp` signs every message
# with that key (rsa-sha256, before timing) and sends 5,000 messages of 10 KB
# over 32 connections. Each Sealpost round starts a fresh demo resolving
# through that server, with --no-auth-checks ("off") or without ("on");
# after an "on" round one delivered message's Authentication-Results must
# say spf=pass, dkim=pass and dmarc=pass, or the script fails. With
# BASELINE=1 (root, Debian) each round also runs the same command against
# the private Postfix + Dovecot of scripts/baseline (started here), counted
# end to end into the Maildir as scripts/baseline/bench.sh does.
# Rounds alternate off, on[, baseline] (ROUNDS, default 3).
# CLIENT=BINARY runs `bench smtp` (and `bench dns`) from another sealpost
# binary than the server's, so that two servers are compared with one
# client.
set -euo pipefail
SP=${1:?usage: bench-inbound.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-inbound}
ROUNDS=${ROUNDS:-3} DNS=127.0.0.1:5353
ROOT=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$W"; mkdir -p "$W/results"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${BASELINE:-}" = 1 ] && "$ROOT/scripts/baseline/stop.sh" "$W/baseline" >/dev/null 2>&1 || true
}
trap cleanup EXIT

. "$(dirname "$0")/bench-lib.sh"
bench_dns "${CLIENT:-$SP}" "$DNS" "$W"

FLAGS=(--from bench@bench.test --dkim-key "$W/dkim.pem" --dkim-selector s1)
# UNSIGNED=1: no DKIM signature (SPF and DMARC only), to see what the
# checks cost besides the RSA verification.
[ "${UNSIGNED:-}" = 1 ] && FLAGS=(--from bench@bench.test)
SMTP=("${CLIENT:-$SP}" bench smtp --addr 127.0.0.1:2525 --to bob@demo.example --concurrency 32 --messages 5000 --size 10240 "${FLAGS[@]}")
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }

# check_ar: one of bob's messages passed all three checks.
check_ar() {
  python3 - <<'PY'
import imaplib, os, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", 1993, ssl_context=ctx)
c.login("bob@demo.example", "bob-demo-pass")
c.select("INBOX", readonly=True)
typ, data = c.fetch("*", "(BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)])")
ar = data[0][1].decode()
wants = ("spf=pass", "dmarc=pass") if os.environ.get("UNSIGNED") == "1" else ("spf=pass", "dkim=pass", "dmarc=pass")
for want in wants:
    if want not in ar:
        sys.exit("bench-inbound.sh: Authentication-Results lacks %s: %r" % (want, ar))
PY
}

sealpost_round() { # ROUND MODE
  local d=$W/demo-$1-$2 out=$W/results/sealpost-$2-$1.json
  local extra=(); [ "$2" = off ] && extra=(--no-auth-checks)
  "$SP" demo --data "$d" --dns "$DNS" "${extra[@]}" >"$d.out" 2>"$d.log" & local demo=$!
  for _ in $(seq 300); do grep -qx ready "$d.out" 2>/dev/null && break; sleep 0.1; done
  "${SMTP[@]}" --json >"$out"
  [ "$(field "$out" errors)" = 0 ] || { echo "bench-inbound.sh: $2 round $1 had errors" >&2; exit 1; }
  [ "$2" = on ] && check_ar
  kill $demo; wait $demo 2>/dev/null || true
  rm -rf "$d"
  # The next round starts with this one's data written back and its
  # deletion done, not competing with them for the disk.
  sync; sleep 2
  echo "sealpost checks $2, round $1: $(calc "$(field "$out" ops_per_s)") msg/s"
  echo "$(calc "$(field "$out" ops_per_s)")" >>"$W/results/$2.rates"
}

# median FILE: the median of the numbers in FILE, one a line.
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ "${BASELINE:-}" = 1 ]; then
  "$ROOT/scripts/baseline/run.sh" "$W/baseline" >"$W/baseline.out" 2>&1
fi
echo "# inbound SMTP, 5000 x 10240 B $([ "${UNSIGNED:-}" = 1 ] && echo unsigned || echo DKIM-signed), 32 connections, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), Sealpost $(git -C "$ROOT" rev-parse --short HEAD)"
for r in $(seq "$ROUNDS"); do
  sealpost_round "$r" off
  sealpost_round "$r" on
  if [ "${BASELINE:-}" = 1 ]; then
    SMTP_ONLY=1 SMTP_FLAGS="${FLAGS[*]}" "$ROOT/scripts/baseline/bench.sh" "$SP" "$W/baseline" | sed "s/\$/, round $r/" >"$W/base.out"
    cat "$W/base.out"
    sed -n 's/.*end to end \([0-9.]*\) msg\/s.*/\1/p' "$W/base.out" >>"$W/results/baseline.rates"
  fi
done
# The summary: medians over the rounds, each round's on/off ratio, and the
# ratios to the baseline's end-to-end median.
off=$(median "$W/results/off.rates") on=$(median "$W/results/on.rates")
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "median: checks off $off msg/s, checks on $on msg/s, on/off $(ratio "$on" "$off") (target >= 0.90)"
echo "per round on/off: $(paste "$W/results/off.rates" "$W/results/on.rates" | awk '{ printf "%s%.2f", sep, $2 / $1; sep = " " }')"
if [ "${BASELINE:-}" = 1 ]; then
  base=$(median "$W/results/baseline.rates")
  echo "baseline end to end median $base msg/s: checks off $(ratio "$off" "$base")x, checks on $(ratio "$on" "$base")x (target >= 8x)"
fi
