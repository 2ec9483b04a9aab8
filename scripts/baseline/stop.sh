#!/usr/bin/env bash
# stop.sh [WORKDIR] — stop the private Postfix and Dovecot that run.sh started
# in WORKDIR (default /tmp/sealpost-baseline), and wait until every one of
# their processes is gone. Leaves the work folder in place.
set -euo pipefail

W=${1:-/tmp/sealpost-baseline}

descendants() { # PID and all its descendants
  local p
  echo "$1"
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$p"; done
}
alive() { # the PIDs of the arguments still running
  local p
  for p; do kill -0 "$p" 2>/dev/null && echo "$p"; done
  return 0
}

pids=()
for f in "$W/postfix/queue/pid/master.pid" "$W/dovecot/run/master.pid"; do
  [ -s "$f" ] || continue
  m=$(tr -d ' \n' <"$f")
  kill -0 "$m" 2>/dev/null || continue
  while read -r p; do pids+=("$p"); done < <(descendants "$m")
done
[ ${#pids[@]} -gt 0 ] || { echo "baseline: nothing running in $W"; exit 0; }

postfix -c "$W/postfix/conf" stop >/dev/null 2>&1 || true
dovecot -c "$W/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
for _ in $(seq 100); do
  [ -z "$(alive "${pids[@]}")" ] && { echo "baseline stopped (${#pids[@]} processes)"; exit 0; }
  sleep 0.1
done
left=$(alive "${pids[@]}")
echo "baseline: killing leftover processes: $left" >&2
# shellcheck disable=SC2086 # $left is a list of PIDs
kill -9 $left 2>/dev/null || true
