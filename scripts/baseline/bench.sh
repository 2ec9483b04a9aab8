#!/usr/bin/env bash
# bench.sh SEALPOST [WORKDIR] — run the load generator's SMTP and IMAP
# benchmarks against the baseline that run.sh started in WORKDIR (default
# /tmp/sealpost-baseline), with the same commands as docs/BENCHMARKS.md, and
# print a markdown table. Raw output goes to WORKDIR/results/.
set -euo pipefail

SP=${1:?usage: bench.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-baseline}
MD=$W/mail/baseline.test/bench/Maildir
R=$W/results; mkdir -p "$R"
USER_=bench@baseline.test
# SMTP_FLAGS adds to the SMTP command (bench-inbound.sh: a sender domain and
# a DKIM key, as it sends to Sealpost); SMTP_ONLY=1 stops after SMTP.
SMTP=("$SP" bench smtp --addr 127.0.0.1:2526 --user "$USER_" --to "$USER_"
      --concurrency 32 --messages 5000 --size 10240 ${SMTP_FLAGS:-})
IMAP=("$SP" bench imap --addr 127.0.0.1:1994 --tls --insecure --user "$USER_"
      --pass bench-pass)
FILL=("${IMAP[@]}" --fill --messages 10000 --size 10240 --op none)
FETCH=("${IMAP[@]}" --concurrency 2 --op fetch)
SEARCH=("${IMAP[@]}" --concurrency 2 --op search --word sealpostbench --repeat 5)

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; } # FILE KEY
in_mailbox() { find "$MD/new" "$MD/cur" -type f 2>/dev/null | wc -l; }
empty_inbox() { doveadm -c "$W/dovecot/dovecot.conf" expunge -u "$USER_" mailbox INBOX all; }
run() { # NAME CMD...: run CMD with --json into $R/NAME.json; warn on errors
  local name=$1; shift
  "$@" --json >"$R/$name.json" || { echo "bench.sh: $name failed" >&2; exit 1; }
  [ "$(field "$R/$name.json" errors)" = 0 ] || echo "bench.sh: $name had errors" >&2
}
row() { # LABEL JSON: | label | ops/s | MB/s | p50 | p99 | elapsed |
  printf '| %s | %s | %s | %s ms | %s ms | %s s |\n' "$1" "$(calc "$(field "$2" ops_per_s)")" \
    "$(calc "$(field "$2" mb_per_s)" 2)" "$(calc "$(field "$2" p50)" 2)" \
    "$(calc "$(field "$2" p99)" 2)" "$(calc "$(field "$2" elapsed_s)" 2)"
}

# SMTP. Postfix's 250 only means "queued", so also watch the Maildir until
# every accepted message is in it; a sampler logs the count once a second.
empty_inbox
n0=$(in_mailbox); t0=$(now)
( while sleep 1; do echo "$(calc "$(now) - $t0") $(( $(in_mailbox) - n0 ))"; done ) \
  >"$R/maildir-count.txt" & sampler=$!
run smtp "${SMTP[@]}"
ok=$(field "$R/smtp.json" ops)
for _ in $(seq 6000); do [ $(( $(in_mailbox) - n0 )) -ge "$ok" ] && break; sleep 0.1; done
kill "$sampler"; wait "$sampler" 2>/dev/null || true
delivered=$(( $(in_mailbox) - n0 ))
# A file's ctime is when Dovecot renamed it into new/: the last one ends the run.
t_last=$(find "$MD/new" "$MD/cur" -type f -printf '%C@\n' | sort -n | tail -1)
e2e=$(calc "$delivered / ($t_last - $t0)")
if [ "${SMTP_ONLY:-}" = 1 ]; then
  echo "baseline smtp: accepted $(calc "$(field "$R/smtp.json" ops_per_s)") msg/s, end to end $e2e msg/s ($delivered in the Maildir)"
  exit 0
fi

# IMAP: exactly 10,000 messages of 10 KB in INBOX, then fetch x3 and search.
empty_inbox
run fill "${FILL[@]}"
for i in 1 2 3 4 5; do run fetch$i "${FETCH[@]}"; done
run search "${SEARCH[@]}"

{
  echo "### Postfix $(postconf -c "$W/postfix/conf" -h mail_version) + Dovecot $(dovecot --version | cut -d' ' -f1), $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)"
  echo
  echo "| run | ops/s | MB/s | p50 | p99 | elapsed |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  row "SMTP accepted (250 = queued)" "$R/smtp.json"
  printf '| SMTP end to end, in the Maildir | %s | | | | %s s |\n' "$e2e" "$(calc "$t_last - $t0" 2)"
  row "IMAP APPEND (--fill)" "$R/fill.json"
  for i in 1 2 3 4 5; do row "IMAP fetch, run $i" "$R/fetch$i.json"; done
  row "IMAP search BODY" "$R/search.json"
  echo
  echo "SMTP: $ok accepted, $delivered in the Maildir; end to end is from the bench's"
  echo "start to the ctime of the last Maildir file. Per-second count: $R/maildir-count.txt."
  echo "INBOX is emptied (doveadm expunge) before the SMTP run and before --fill."
  echo "Search matched $(field "$R/search.json" matches) messages per search. Commands (--json added to each for parsing):"
  echo
  echo '```'
  for c in SMTP FILL FETCH SEARCH; do
    declare -n a=$c; printf 'sealpost'; printf ' %s' "${a[@]:1}"; echo; unset -n a
  done
  echo '```'
} | tee "$R/results.md"
