#!/usr/bin/env bash
# bench-import.sh SEALPOST [WORKDIR] — IMAP import from a loopback Dovecot,
# Sealpost against mbsync (Debian's isync) copying the same mail into a
# second, plain Dovecot, in one sitting (issue 15's import target: at least
# 500 messages/s of 10 KiB, sealed and durable).
#
# The source is a private Dovecot (Maildir, plaintext logins on loopback)
# holding N messages (MESSAGES, default 5000) of 10 KiB spread over five
# folders, with flags, written straight into its Maildir; one SELECT of
# each folder first lets Dovecot index them, so every run reads the same
# indexed mailbox. Then ROUNDS rounds (default 2), each:
#   sealpost  `sealpost import imap --plain` into a fresh demo data folder,
#             the server stopped (storage opened by the command: what the
#             import costs without a server's other work)
#   sealpost-running  the same into a fresh demo whose server runs (batches
#             through its control socket)
#   mbsync    `mbsync -a` of every folder into a fresh second Dovecot
#             (Maildir, mail_fsync=optimized as packaged: each saved
#             message fsynced before the APPEND is answered; mbsync's
#             default FSync yes on its own state)
# Each is timed from start to exit; messages/s is N (less All-Mail-like
# views: there are none here) over that time. Both tools copy over plain
# IMAP on loopback, so TLS costs neither side.
# Results: WORKDIR/results.txt and a markdown table on stdout.
set -euo pipefail
SP=${1:?usage: bench-import.sh SEALPOST_BINARY [WORKDIR]}
W=${2:-/tmp/sealpost-bench-import}
ROUNDS=${ROUNDS:-2} N=${MESSAGES:-5000} SIZE=10240
[ "$(id -u)" = 0 ] || { echo "bench-import.sh: must run as root (private Dovecots run their mail processes as nobody)" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "bench-import.sh: needs Debian's dovecot-imapd" >&2; exit 1; }
command -v mbsync >/dev/null || { echo "bench-import.sh: needs Debian's isync (mbsync)" >&2; exit 1; }
SP=$(readlink -f "$SP")
rm -rf "$W"; mkdir -p "$W"; chmod 755 "$W"
demo=
cleanup() {
  [ -n "$demo" ] && { kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; }
  for c in "$W"/dc-*/dovecot.conf; do [ -f "$c" ] && doveadm -c "$c" stop 2>/dev/null || true; done
}
trap cleanup EXIT

# dovecot NAME PORT: a private Dovecot on 127.0.0.1:PORT, user bench /
# bench-pass, Maildir under $W/dc-NAME/home/Maildir.
dovecot_start() {
  local D=$W/dc-$1 port=$2
  mkdir -p "$D"/{run,state,home/Maildir}
  echo "bench:{PLAIN}bench-pass" >"$D/users"
  cat >"$D/dovecot.conf" <<EOF
instance_name = sealpost-bench-import-$1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/home
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Archive {
    special_use = \Archive
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
  chown -R nobody:nogroup "$D/home"
  dovecot -c "$D/dovecot.conf"
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done
  echo "bench-import.sh: dovecot $1 not listening; see $D/dovecot.log" >&2; exit 1
}
dovecot_stop() { doveadm -c "$W/dc-$1/dovecot.conf" stop; sleep 0.5; }

# The source mailbox: N messages of SIZE bytes over five folders.
python3 - "$W/dc-src/home/Maildir" "$N" "$SIZE" <<'EOF'
import os, sys, time
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
folders = ["", ".Sent", ".Archive", ".Lists", ".Lists.Go"]
for f in folders:
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, f, s), exist_ok=True)
base = 1551776400
for i in range(n):
    head = (f"From: Sender {i % 97} <s{i % 97}@example.org>\nTo: bench@example.net\n"
            f"Subject: import bench {i}\nDate: Tue, 05 Mar 2019 09:10:00 +0000\n"
            f"Message-ID: <{i}.bench@example.org>\n\n")
    line = f"line of message {i}, to fill it up to its size; nothing else here.\n"
    body = head + line * ((size - len(head)) // len(line) + 1)
    body = body[:size - 1] + "\n"
    info = ["S", "RS", "FS", "", "S"][i % 5]
    name = f"{base + i * 60}.M{i}P1.benchhost" + (":2," + info if info else "")
    p = os.path.join(root, folders[i % len(folders)], "cur" if info else "new", name)
    with open(p, "w") as fh:
        fh.write(body)
    os.utime(p, (base + i * 60, base + i * 60))
EOF
dovecot_start src 11430
echo bench-pass >"$W/pass"
# Let Dovecot index every folder once (doveadm as any client's first SELECT).
doveadm -c "$W/dc-src/dovecot.conf" mailbox status -u bench messages '*' >"$W/src-status.txt"

now() { date +%s.%N; }
results=$W/results.txt; : >"$results"
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.0f}')" "$@"; }

demo_start() { # DATA: start the demo and wait for "ready"
  "$SP" demo --data "$1" --smtp 127.0.0.1:0 --submission 127.0.0.1:0 --submissions 127.0.0.1:0 \
    --imap 127.0.0.1:0 --imaps 127.0.0.1:0 --web 127.0.0.1:0 --managesieve 127.0.0.1:0 \
    >"$1.out" 2>"$1.log" &
  demo=$!
  for _ in $(seq 300); do grep -q '^ready' "$1.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench-import.sh: demo not ready; see $1.log" >&2; exit 1
}
demo_stop() { kill "$demo"; wait "$demo" 2>/dev/null || true; demo=; }

import() { # DATA
  "$SP" import imap --from 127.0.0.1:11430 --plain --user bench --password-file "$W/pass" \
    --to alice@demo.example --data "$1" >"$1.import" 2>"$1.import.err"
  grep -q "^imported $N messages" "$1.import" || { echo "bench-import.sh: import incomplete:" >&2; cat "$1.import" "$1.import.err" >&2; exit 1; }
}

for r in $(seq "$ROUNDS"); do
  # Sealpost, server stopped.
  D=$W/sp-stopped-$r; demo_start "$D"; demo_stop
  t0=$(now); import "$D"; t1=$(now)
  echo "sealpost $r $(rate "$N" "$t0" "$t1")" | tee -a "$results"
  # Sealpost, server running.
  D=$W/sp-running-$r; demo_start "$D"
  t0=$(now); import "$D"; t1=$(now)
  demo_stop
  echo "sealpost-running $r $(rate "$N" "$t0" "$t1")" | tee -a "$results"
  # mbsync into a fresh plain Dovecot.
  rm -rf "$W/dc-dst" "$W/mbsync-$r"; mkdir -p "$W/mbsync-$r"
  dovecot_start dst 11431
  cat >"$W/mbsync-$r/rc" <<EOF
IMAPAccount src
Host 127.0.0.1
Port 11430
User bench
Pass bench-pass
SSLType None
AuthMechs LOGIN

IMAPAccount dst
Host 127.0.0.1
Port 11431
User bench
Pass bench-pass
SSLType None
AuthMechs LOGIN

IMAPStore far
Account src

IMAPStore near
Account dst

Channel copy
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
SyncState $W/mbsync-$r/
EOF
  t0=$(now); mbsync -q -c "$W/mbsync-$r/rc" -a; t1=$(now)
  got=$(doveadm -c "$W/dc-dst/dovecot.conf" mailbox status -u bench messages '*' | awk -F= '{s+=$2} END {print s}')
  [ "$got" = "$N" ] || { echo "bench-import.sh: mbsync copied $got of $N" >&2; exit 1; }
  echo "mbsync $r $(rate "$N" "$t0" "$t1")" | tee -a "$results"
  dovecot_stop dst
done

echo
echo "| copy ($N x 10 KiB, loopback Dovecot source) | messages/s per round |"
echo "|---|---|"
for k in sealpost sealpost-running mbsync; do
  echo "| $k | $(awk -v k="$k" '$1 == k {printf "%s ", $3}' "$results")|"
done
