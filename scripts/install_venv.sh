#!/usr/bin/env bash
# Installs the pinned venv (requirements/<lock>.lock) with as little disk as it can.
# Why: torch from PyPI brings ~5 GB of CUDA libraries, and CI machines have had under 9 GB free.
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
for lock in "${locks[@]}"; do
  "${pip[@]}" install "${cache_flags[@]}" --no-compile --no-deps -r "requirements/$lock.lock" || {
    echo "install_venv: installing requirements/$lock.lock failed with $(gib "$(free_kb .)") GiB free" \
         "(the base venv needs about 7.5 GiB)" >&2
    exit 1
  }
done
"${pip[@]}" install "${cache_flags[@]}" --no-deps -e .
