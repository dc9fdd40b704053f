#!/usr/bin/env bash
# Installs the pinned tools that check the Helm chart (scripts/check_helm.sh) into
# ${XDG_CACHE_HOME:-~/.cache}/timbre, never into the project's venv:
#   go-bin/helm      helm, built from its Go module with `go install` (a few minutes the first time)
#   tools/venv       kubernetes-validate (Kubernetes' JSON schemas), checkov, jsonschema, PyYAML
#                    (deploy/helm/tools/requirements.txt, every version pinned)
#   tools/npm        the schemas of the custom resources the chart renders: KEDA, Prometheus Operator,
#                    Strimzi, CloudNativePG (deploy/helm/tools/package.json + package-lock.json)
# Quick and quiet when everything is there at the pinned versions (a stamp next to each).
#   usage: scripts/install_deploy_tools.sh
# Exit status 3: a tool could not be fetched (no network to its registry); the tests skip on it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
helm_version=v3.22.0
helm_module=helm.sh/helm/v3
min_go=1.26  # helm v3.22.0's go.mod says `go 1.26.0`

cache="${XDG_CACHE_HOME:-$HOME/.cache}/timbre"
bin_dir="$cache/go-bin"
helm="$bin_dir/helm"
tools="$cache/tools"
venv="$tools/venv"
npm_dir="$tools/npm"
requirements="$repo/deploy/helm/tools/requirements.txt"
package_json="$repo/deploy/helm/tools/package.json"
package_lock="$repo/deploy/helm/tools/package-lock.json"

say() { echo "install_deploy_tools: $*" >&2; }
offline() { say "$*"; exit 3; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- helm ---------------------------------------------------------------------------------------
helm_stamp="$helm.version"
if ! { [ -x "$helm" ] && [ "$(cat "$helm_stamp" 2>/dev/null)" = "$helm_version" ]; }; then
  if [ -x "$helm" ] && go version -m "$helm" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$helm_module[[:space:]]+$helm_version([[:space:]]|$)"; then
    echo "$helm_version" >"$helm_stamp"
  else
    if ! command -v go >/dev/null 2>&1; then
      say "'go' (Go >= $min_go) is not on PATH; it builds $helm_module@$helm_version. Install Go from https://go.dev/dl/"
      exit 1
    fi
    go_version=$(go env GOVERSION | sed 's/^go//')
    if [ "$(printf '%s\n%s\n' "$min_go" "$go_version" | sort -V | head -1)" != "$min_go" ]; then
      say "Go $go_version is too old for $helm_module@$helm_version (needs >= $min_go); see https://go.dev/dl/"
      exit 1
    fi
    say "go install $helm_module/cmd/helm@$helm_version (about 3 minutes on 2 cores the first time)"
    mkdir -p "$bin_dir"
    rm -f "$helm_stamp"
    if ! GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$helm_module/cmd/helm@$helm_version"; then
      # A build error needs fixing; a module that cannot be downloaded means no network: the caller may skip.
      go mod download -json "$helm_module@$helm_version" >/dev/null 2>&1 || offline "cannot download $helm_module@$helm_version (offline?)"
      exit 1
    fi
    echo "$helm_version" >"$helm_stamp"
  fi
fi

# --- Python tools venv --------------------------------------------------------------------------
venv_stamp="$venv/.installed"
want=$(digest "$requirements")
if [ "$(cat "$venv_stamp" 2>/dev/null)" != "$want" ]; then
  python=${PYTHON:-python3}
  say "tools venv at $venv ($(wc -l <"$requirements") pinned packages, about a minute and a half the first time)"
  rm -rf "$venv"
  mkdir -p "$tools"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"; then
    rm -rf "$venv"
    offline "pip could not install $requirements (offline?)"
  fi
  echo "$want" >"$venv_stamp"
fi

# --- npm schemas of the custom resources ----------------------------------------------------------
npm_stamp="$npm_dir/.installed"
want=$(digest "$package_json" "$package_lock")
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$want" ]; then
  command -v npm >/dev/null 2>&1 || { say "'npm' (Node.js) is not on PATH; it installs the KEDA/Prometheus/Strimzi/CNPG schemas"; exit 1; }
  say "npm ci of the custom resources' schema packages into $npm_dir"
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  cp "$package_json" "$package_lock" "$npm_dir/"
  # --ignore-scripts: nothing runs at install time; engine warnings (they ask for Node 22) are harmless:
  # the validators are plain ES2022 modules, which Node 20 runs.
  if ! (cd "$npm_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null); then
    rm -rf "$npm_dir"
    offline "npm could not install $package_json (offline?)"
  fi
  echo "$want" >"$npm_stamp"
fi
