#!/usr/bin/env bash
# The one list of Debian packages Timbre needs outside its venv; `make demo`, `make test` and .ci/run call it.
# Installs what is missing when it runs as root (apt-get), else stops at once with the one command to type.
#   usage: scripts/install_system.sh
set -euo pipefail

# "package:check" — the check is a command name, or a path that must exist.
required=(
  "openjdk-17-jre-headless:java"            # Kafka (KRaft) runs on the JVM
  "maven:mvn"                               # fetches Kafka's jars (deploy/kafka/pom.xml) into ~/.m2
  "postgresql-15:/usr/lib/postgresql/15/bin/postgres"
  "postgresql-client-15:psql"
  "util-linux:runuser"                      # PostgreSQL refuses to run as root: the stack drops to a user
  "espeak-ng:espeak-ng"                     # the text front end's phonemes; sample speakers
  "sox:sox"
  "ffmpeg:ffmpeg"                           # torchcodec (coqui-tts) loads the system FFmpeg libraries
  "python3-venv:python3-venv-check"         # `python3 -m venv` needs ensurepip on Debian
  "git:git"                                 # buf breaking compares against the previous commit
  "make:make"
  "wrk:wrk"                                 # the gateway load benchmark (bench/load)
  "chromium:chromium"                       # the console's browser tests (tests/browser, playwright-core drives it)
  "fonts-thai-tlwg:/usr/share/fonts/truetype/tlwg"  # Thai glyphs for the console's screenshots
  "nodejs:node"                             # builds the console (Vite); Node.js >= 20.19
)

present() {
  case "$1" in
    python3-venv-check) python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for entry in "${required[@]}"; do
  present "${entry#*:}" || missing+=("${entry%%:*}")
done
((${#missing[@]})) || exit 0

command="apt-get -qq update && apt-get -qq install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    command="sudo apt-get -qq update && sudo apt-get -qq install -y --no-install-recommends ${missing[*]}"
  else
    echo "install_system: missing Debian packages: ${missing[*]}" >&2
    echo "install_system: run this once, then try again:  sudo $command" >&2
    exit 1
  fi
fi
echo "install_system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
eval "$command"
