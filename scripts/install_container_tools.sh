#!/usr/bin/env bash
# The Debian packages Timbre's container images and compose stack need (deploy/docker, deploy/compose):
# the Docker engine and its 20.10 client (BuildKit built in), debootstrap (the base image's rootfs) and
# docker-compose. Installs what is missing when run as root (apt-get), else stops at once with the one
# command to type; quick and quiet when nothing is missing. `make images` calls it.
#   usage: scripts/install_container_tools.sh
set -euo pipefail

# "package:check" — the check is a command name, or a path that must exist.
required=(
  "docker.io:dockerd"
  "docker.io:/usr/bin/docker"
  "debootstrap:debootstrap"
  "docker-compose:docker-compose"
)

missing=()
for entry in "${required[@]}"; do
  check=${entry#*:}
  case "$check" in
    /*) [ -e "$check" ] ;;
    *) command -v "$check" >/dev/null 2>&1 ;;
  esac || missing+=("${entry%%:*}")
done
((${#missing[@]})) || exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

command="apt-get -qq update && apt-get -qq install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "install_container_tools: missing Debian packages: ${missing[*]}" >&2
  echo "install_container_tools: run this once, then try again:  sudo $command" >&2
  exit 1
fi
echo "install_container_tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
eval "$command"
