#!/usr/bin/env bash
# bench-regions.sh SEALPOST [WORKDIR] — issue 3's benchmarks, back to back in
# one sitting: SMTP ingest into a region on the embedded store (the demo's
# us region) and into the same region on PostgreSQL; then IMAP FETCH and
# submission straight to a regional node and through the front door.
# Prints a markdown table for docs/BENCHMARKS.md. Needs PostgreSQL's server
# binaries (Debian's postgresql); run as root they run as the postgres user.
set -euo pipefail

SP=$(realpath "${1:?usage: bench-regions.sh SEALPOST_BINARY [WORKDIR]}")
W=${2:-/tmp/sealpost-bench-regions}
R=$W/results
N=${MESSAGES:-5000}
rm -rf "$W"; mkdir -p "$R"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PGBIN:-}" ] && $RUNAS "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "${PGDIR:-/nonexistent}"
}
trap cleanup EXIT

field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
# With PIN=1 the front door runs on CPU 1 and everything else (regional
# nodes, the demo, the benchmark client) on CPU 0, as if the front door had
# a machine of its own; both the direct and the front-door runs then give
# the server and client the same CPU.
pin() { # ROLE: the taskset prefix for a role (fd or other)
  if [ "${PIN:-0}" = 1 ]; then
    if [ "$1" = fd ]; then echo "taskset -c 1"; else echo "taskset -c 0"; fi
  fi
}
# start NAME ARGS... runs sealpost in the background until it prints ready.
start() {
  local name=$1; shift
  local role=other; [ "$name" = fd ] && role=fd
  $(pin $role) "$SP" "$@" >"$W/$name.out" 2>"$W/$name.log" & pids+=($!)
  for _ in $(seq 600); do grep -qx ready "$W/$name.out" 2>/dev/null && return; sleep 0.1; done
  echo "bench-regions.sh: $name not ready" >&2; cat "$W/$name.log" >&2; exit 1
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
run() {
  local name=$1; shift
  $(pin other) "$SP" bench "$@" --json >"$R/$name.json" || { echo "bench-regions.sh: $name failed" >&2; exit 1; }
  [ "$(field "$R/$name.json" errors)" = 0 ] || echo "bench-regions.sh: $name had errors" >&2
}
SMTP=(smtp --to bob@demo.example --concurrency 32 --messages "$N" --size 10240)

# PostgreSQL: a private cluster on a Unix socket, as in the tests.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "bench-regions.sh: install postgresql" >&2; exit 1; }
PGDIR=$(mktemp -d /tmp/sealpost-bench-pg.XXXXXX)
RUNAS=""
if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; RUNAS="runuser -u postgres --"; fi
$RUNAS "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 >/dev/null
$RUNAS "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
  -o "-k $PGDIR -c listen_addresses='' -p 5432 -c fsync=on -c max_connections=200" >/dev/null
$RUNAS "$PGBIN/psql" -h "$PGDIR" -U postgres -qc "CREATE DATABASE sealpost_us" >/dev/null
DSN="host=$PGDIR port=5432 user=postgres dbname=sealpost_us"

pgconf() {
  cat >"$W/pg.toml" <<TOML
hostname = "localhost"
data_dir = "$W/pg-data"
[[region]]
id = "ie"
name = "Ireland"
country = "IE"
zones = ["EU"]
[[region]]
id = "us"
name = "United States"
country = "US"
zones = ["US"]
store.kind = "postgres"
store.dsn = "$DSN"
[listen]
smtp = "127.0.0.1:2525"
[mx]
no_auth_checks = true
[tls]
self_signed = true
TOML
  "$SP" domain add demo.example --region ie --config "$W/pg.toml" >/dev/null
  echo bob-demo-pass | "$SP" account add bob@demo.example --region us --config "$W/pg.toml" >/dev/null
}
pgconf

INGEST_ROUNDS=2; [ "${SKIP_INGEST:-0}" = 1 ] && INGEST_ROUNDS=0
for round in $(seq "$INGEST_ROUNDS"); do
  rm -rf "$W/demo-data"
  start demo demo --data "$W/demo-data" --no-auth-checks # as pg.toml: ingest, not checks
  run "embedded$round" "${SMTP[@]}" --addr 127.0.0.1:2525
  stop_all
  start pg serve --config "$W/pg.toml"
  run "postgres$round" "${SMTP[@]}" --addr 127.0.0.1:2525
  stop_all
done

# Front door: two regional nodes and a front door, as separate processes.
# Node ie also listens publicly, so the same client can go direct or
# through the front door in the same sitting.
"$SP" cluster init --dir "$W/certs" --region ie --region us >/dev/null
fdconf() { # NAME LISTEN...
  local name=$1; shift
  {
    echo "hostname = \"localhost\""
    echo "data_dir = \"$W/$name-data\""
    echo "directory = \"$W/fd-directory.db\""
    for r in ie us; do
      echo "[[region]]"
      echo "id = \"$r\""
      echo "name = \"$r\""
      [ $r = ie ] && echo 'country = "IE"' || echo 'country = "US"'
      echo "store.path = \"$W/fd-storage/$r/meta.db\""
      echo "blobs.path = \"$W/fd-storage/$r/blobs\""
      [ $r = ie ] && echo 'internal = "127.0.0.1:17101"' || echo 'internal = "127.0.0.1:17102"'
    done
    echo "[cluster]"
    echo "ca = \"$W/certs/ca.crt\""
    echo "cert = \"$W/certs/$name.crt\""
    echo "key = \"$W/certs/$name.key\""
    echo "[listen]"
    for l in "$@"; do echo "$l"; done
    echo "[tls]"
    echo "self_signed = true"
  } >"$W/$name.toml"
}
fdconf region-ie 'imaps = "127.0.0.1:11993"' 'submissions = "127.0.0.1:12465"'
fdconf region-us
fdconf frontdoor 'imaps = "127.0.0.1:21993"' 'submissions = "127.0.0.1:22465"'
"$SP" domain add demo.example --region ie --config "$W/region-ie.toml" >/dev/null
echo alice-demo-pass | "$SP" account add alice@demo.example --region ie --config "$W/region-ie.toml" >/dev/null
start ie serve --config "$W/region-ie.toml" --region ie
start us serve --config "$W/region-us.toml" --region us
start fd serve --config "$W/frontdoor.toml" --front-door ${FD_PPROF:+--pprof "$FD_PPROF"}
IMAP=(imap --tls --insecure --user alice@demo.example --pass alice-demo-pass)
run fill "${IMAP[@]}" --addr 127.0.0.1:11993 --fill --messages "${FETCH_MESSAGES:-5000}" --size 10240 --op none
run warm "${IMAP[@]}" --addr 127.0.0.1:11993 --concurrency 2 --op fetch
SUB=(smtp --tls --insecure --auth --user alice@demo.example --pass alice-demo-pass --from alice@demo.example --to alice@demo.example
     --concurrency 32 --messages "$N" --size 10240)
ROUNDS=${ROUNDS:-3}
for round in $(seq "$ROUNDS"); do
  run "fetch-direct$round" "${IMAP[@]}" --addr 127.0.0.1:11993 --concurrency 2 --op fetch
  run "fetch-frontdoor$round" "${IMAP[@]}" --addr 127.0.0.1:21993 --concurrency 2 --op fetch
done
for round in $(seq "$ROUNDS"); do
  run "submit-direct$round" "${SUB[@]}" --addr 127.0.0.1:12465
  run "submit-frontdoor$round" "${SUB[@]}" --addr 127.0.0.1:22465
done
stop_all

{
  echo "### Regions, $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)"
  echo
  echo "| run | ops/s | MB/s | p50 | p99 |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  runs=""; for round in $(seq "$INGEST_ROUNDS"); do runs="$runs embedded$round postgres$round"; done
  for kind in fetch submit; do
    for round in $(seq "$ROUNDS"); do runs="$runs $kind-direct$round $kind-frontdoor$round"; done
  done
  for f in $runs; do
    printf '| %s | %s | %s | %s ms | %s ms |\n' "$f" "$(calc "$(field "$R/$f.json" ops_per_s)")" \
      "$(calc "$(field "$R/$f.json" mb_per_s)" 2)" "$(calc "$(field "$R/$f.json" p50)" 2)" "$(calc "$(field "$R/$f.json" p99)" 2)"
  done
} | tee "$R/table.md"
