#!/usr/bin/env bash
# Installs the pinned venv (requirements/<lock>.lock) with as little disk as it can.
# Why: torch from PyPI brings ~4.3 GB of CUDA libraries (the venv is ~7.5 GB), and CI machines have had
# as little as 6 GB free.
#   usage: scripts/install_venv.sh [lock ...]        (default: base)
set -euo pipefail
cd "$(dirname "$0")/.."
locks=("${@:-base}")
venv=.venv
gib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1048576 }'; }
free_kb() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }

test -x $venv/bin/python || python3 -m venv $venv
pip=("$venv/bin/pip" --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip wheel setuptools

# pip unpacks every wheel under TMPDIR and a killed pip leaves it there (seen: 2.8 GB of pip-unpack-* in
# /tmp). A folder of our own is cleared at each start, so a failed install cannot eat the next one's disk.
export TMPDIR="$PWD/$venv/.pip-tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
trap 'rm -rf "$TMPDIR"' EXIT

# The wheel cache doubles the footprint of a fresh install (~3.8 GB more): keep using it only while the disk
# has room for both; when it has not, install without caching and give the old cache back if needed.
need_kb=$((8 * 1048576))
with_cache_kb=$((12 * 1048576))
cache_dir=$("$venv/bin/pip" cache dir 2>/dev/null || echo "$HOME/.cache/pip")
mkdir -p "$cache_dir"
cache_flags=()
if (( $(free_kb .) < with_cache_kb )) || (( $(free_kb "$cache_dir") < with_cache_kb )); then
  cache_flags=(--no-cache-dir)
  echo "install_venv: $(gib "$(free_kb .)") GiB free here; installing without pip's wheel cache"
  if (( $(free_kb .) < need_kb )); then
    echo "install_venv: purging pip's wheel cache ($(du -sh "$cache_dir" | cut -f1)) to make room"
    "$venv/bin/pip" cache purge >/dev/null || true
  fi
fi

install() {
  "${pip[@]}" install "${cache_flags[@]}" --no-compile --no-deps "$@" || {
    echo "install_venv: installing $* failed with $(gib "$(free_kb .)") GiB free" \
         "(the base venv takes about 7.5 GB, plus its largest wheel, ~0.7 GB, while it installs)" >&2
    exit 1
  }
}

# One pip call holds every wheel it downloaded until it ends: ~3.5 GB for torch and its CUDA libraries.
# So these go in one at a time (peak: the venv plus one wheel), then the rest of the lock in one call.
heavy='^(torch|nvidia-)[^=]*=='
for lock in "${locks[@]}"; do
  file="requirements/$lock.lock"
  grep -E "$heavy" "$file" | while read -r pin; do install "$pin" </dev/null; done
  grep -vE "$heavy" "$file" > "$TMPDIR/light.lock"
  install -r "$TMPDIR/light.lock"
done
"${pip[@]}" install "${cache_flags[@]}" --no-deps -e .
