#!/usr/bin/env bash
# Installs the pinned stripe-mock (Stripe's official mock API server, a Go module) into
# ${XDG_CACHE_HOME:-~/.cache}/timbre/go-bin, where devstack and the tests look for it (docs/stripe-local.md).
# Quick and quiet when that version is already there; `make up|demo|test` call it.
#   usage: scripts/install_stripe_mock.sh
set -euo pipefail

version=v0.203.0
module=github.com/stripe/stripe-mock
min_go=1.22  # stripe-mock's go.mod says `go 1.22.1`
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/timbre/go-bin"
binary="$bin_dir/stripe-mock"
# `stripe-mock -version` prints "master" for a `go install` build, so the installed version is kept in a
# stamp next to the binary (and read back from the binary's build information when the stamp is missing).
stamp="$binary.version"

[ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] && exit 0

if ! command -v go >/dev/null 2>&1; then
  echo "install_stripe_mock: 'go' (Go >= $min_go) is not on PATH; it builds $module@$version." >&2
  echo "install_stripe_mock: Debian 12's golang-go is Go 1.19, too old. Install Go from https://go.dev/dl/" >&2
  echo "install_stripe_mock: (e.g. tar -C /usr/local -xzf go1.26.*.linux-amd64.tar.gz; export PATH=/usr/local/go/bin:\$PATH)" >&2
  exit 1
fi

if [ -x "$binary" ] && go version -m "$binary" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
  echo "$version" >"$stamp"
  exit 0
fi

go_version=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$min_go" "$go_version" | sort -V | head -1)" != "$min_go" ]; then
  echo "install_stripe_mock: Go $go_version is too old for $module@$version (needs >= $min_go); see https://go.dev/dl/" >&2
  exit 1
fi

echo "install_stripe_mock: go install $module@$version (about a minute the first time)"
mkdir -p "$bin_dir"
rm -f "$stamp"
GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$module@$version"
echo "$version" >"$stamp"
