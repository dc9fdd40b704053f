#!/usr/bin/env bash
# Makes sure a Docker daemon answers for Timbre's images and compose stack (deploy/docker, deploy/compose).
# Quick and quiet when one answers at TIMBRE_DOCKER_HOST; else starts one there (as root).
#
# Timbre's daemon is its own: its own socket (/run/timbre-docker/docker.sock), its data root under
# ~/.cache/timbre/docker (image layers survive between CI runs on a warm machine: CI clones afresh but
# keeps ~/.cache), overlay2 where the kernel mounts overlayfs there, else vfs (vfs copies every layer and
# every container's file system whole: with the ~7 GB Timbre image, a dozen containers would need ~150 GB).
# No iptables rules and no docker0 bridge (--iptables=false --bridge=none): compose's own bridge network,
# container DNS and ports published on 127.0.0.1 (docker-proxy) work without them; containers reach
# nothing outside the host. Another daemon on the machine (/var/run/docker.sock) is left alone.
#
#   usage: scripts/start_dockerd.sh            start unless answering; exit 1 with the reason if it cannot
#          scripts/start_dockerd.sh --host     print the DOCKER_HOST value to use (starts nothing)
#          scripts/start_dockerd.sh --stop     stop the daemon this script started (by its pid file)
#   env:   TIMBRE_DOCKER_HOST (unix:///run/timbre-docker/docker.sock), TIMBRE_DOCKER_DATA_ROOT,
#          TIMBRE_DOCKER_STORAGE_DRIVER (auto | overlay2 | vfs), TIMBRE_DOCKER_BUILD_CACHE (20GB)
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/timbre"
host="${TIMBRE_DOCKER_HOST:-unix:///run/timbre-docker/docker.sock}"
data_root="${TIMBRE_DOCKER_DATA_ROOT:-$cache/docker}"
driver="${TIMBRE_DOCKER_STORAGE_DRIVER:-auto}"
run_dir=/run/timbre-docker
pidfile="$run_dir/dockerd.pid"
log="$cache/dockerd.log"
# Debian's client (20.10): it builds with BuildKit itself; a newer client without buildx cannot.
docker="${TIMBRE_DOCKER:-/usr/bin/docker}"
[ -x "$docker" ] || docker=$(command -v docker || echo /usr/bin/docker)

fail() {
  echo "start_dockerd: $*" >&2
  exit 1
}
answers() { DOCKER_HOST="$host" timeout 10 "$docker" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
  --host)
    echo "$host"
    exit 0
    ;;
  --stop)
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "start_dockerd: no daemon of this script is running"
      exit 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && fail "dockerd (pid $pid) still running 30 s after SIGTERM"
    echo "start_dockerd: stopped dockerd (pid $pid)"
    exit 0
    ;;
  "") ;;
  *) fail "unknown argument $1 (use --host or --stop)" ;;
esac

answers && exit 0

socket="${host#unix://}"
[ "$socket" != "$host" ] || fail "nothing answers at $host, and only a unix:// socket can be started here"
[ -x "$docker" ] || fail "no docker client: install Debian's docker.io (apt-get install docker.io)"
for tool in dockerd containerd runc; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found: install Debian's docker.io (apt-get install docker.io)"
done
[ "$(id -u)" = 0 ] || fail "nothing answers at $host and starting dockerd needs root (uid $(id -u));" \
  "run 'sudo scripts/start_dockerd.sh' or set TIMBRE_DOCKER_HOST to a daemon you may use"

mkdir -p "$data_root" "$run_dir" "$(dirname "$socket")" "$(dirname "$log")"

# overlay2 where overlayfs mounts on the data root's file system (the same check dockerd makes, done
# first so that the choice and its reason are printed).
if [ "$driver" = auto ]; then
  probe=$(mktemp -d "$data_root/.overlay-probe.XXXXXX")
  mkdir "$probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    driver=overlay2
  else
    driver=vfs
    echo "start_dockerd: overlayfs does not mount on $data_root; using vfs (every layer and container copied whole)" >&2
  fi
  rm -rf "$probe"
fi

pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  echo "start_dockerd: dockerd (pid $pid) is running but not answering yet; waiting"
else
  # A config of its own (a /etc/docker/daemon.json meant for the machine's own daemon must not apply):
  # BuildKit's cache is garbage-collected, least recently used first, down to TIMBRE_DOCKER_BUILD_CACHE
  # (20GB): old stage snapshots go, the wheelhouse every build uses stays.
  keep=${TIMBRE_DOCKER_BUILD_CACHE:-20GB}
  printf '{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "%s", "policy": [{"keepStorage": "%s", "all": true}]}}}\n' \
    "$keep" "$keep" >"$run_dir/daemon.json"
  echo "start_dockerd: starting dockerd ($driver, data root $data_root, log $log)"
  setsid dockerd \
    --host "$host" \
    --data-root "$data_root" \
    --exec-root "$run_dir/exec" \
    --pidfile "$pidfile" \
    --config-file "$run_dir/daemon.json" \
    --storage-driver "$driver" \
    --iptables=false \
    --bridge=none \
    >>"$log" 2>&1 </dev/null &
  pid=$!
fi

for _ in $(seq 120); do
  if answers; then
    echo "start_dockerd: dockerd answering at $host"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || {
    tail -n 15 "$log" >&2 || true
    fail "dockerd exited during start-up (log: $log)"
  }
  sleep 0.5
done
fail "dockerd (pid $pid) did not answer at $host within 60 s (log: $log)"
