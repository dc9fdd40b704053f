#!/usr/bin/env bash
# Timbre's compose stack (deploy/compose/compose.yaml) on Timbre's Docker daemon (scripts/start_dockerd.sh).
#
#   scripts/compose.sh up      secrets (generated once per project, mode 600), `compose up -d`, then waits
#                              until every long-running service is healthy and prints how long it took
#   scripts/compose.sh down    removes the containers and the network; `down -v` (or
#                              TIMBRE_COMPOSE_VOLUMES=1) removes the volumes too (database, Kafka, models)
#   scripts/compose.sh <args>  any other compose command: ps, logs -f gateway, exec tenancy bash...
#   env: TIMBRE_COMPOSE_PROJECT (timbre), TIMBRE_IMAGE (timbre/timbre:cpu; VARIANT=cuda picks :cuda),
#        TIMBRE_MODELS_SEED (the host's model store, ~/.cache/timbre/models), TIMBRE_COMPOSE_*_PORT,
#        TIMBRE_COMPOSE_HEALTH_TIMEOUT (600 s)
set -euo pipefail
cd "$(dirname "$0")/.."
project=${TIMBRE_COMPOSE_PROJECT:-timbre}
file=deploy/compose/compose.yaml
docker="${TIMBRE_DOCKER:-/usr/bin/docker}"
[ -x "$docker" ] || docker=$(command -v docker)
fail() {
  echo "compose: $*" >&2
  exit 1
}

scripts/start_dockerd.sh >/dev/null
DOCKER_HOST=$(scripts/start_dockerd.sh --host)
export DOCKER_HOST
export TIMBRE_COMPOSE_SECRETS="${TIMBRE_COMPOSE_SECRETS:-$PWD/deploy/compose/.generated/$project}"
export TIMBRE_MODELS_SEED="${TIMBRE_MODELS_SEED:-${TIMBRE_MODEL_PATH:-${XDG_CACHE_HOME:-$HOME/.cache}/timbre/models}}"
export TIMBRE_IMAGE="${TIMBRE_IMAGE:-timbre/timbre:${VARIANT:-cpu}}"

if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif "$docker" compose version >/dev/null 2>&1; then
  compose=("$docker" compose)
else
  fail "no compose: apt-get install docker-compose (or Docker's compose plugin)"
fi
compose+=(-p "$project" -f "$file")

ensure_secrets() {
  local dir=$TIMBRE_COMPOSE_SECRETS
  if [ -s "$dir/secrets.env" ] && [ -s "$dir/postgres.env" ]; then
    # The data-key KEK (encryption at rest) came after the first secrets files: add it to theirs.
    grep -q '^TIMBRE_DATA_KEK=' "$dir/secrets.env" ||
      printf 'TIMBRE_DATA_KEK=%s\nTIMBRE_DATA_KEK_ID=kek-1\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$dir/secrets.env"
    return
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  local token password
  token() { head -c "$1" /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
  password=$(token 24)
  umask 077
  printf 'POSTGRES_PASSWORD=%s\n' "$password" >"$dir/postgres.env"
  cat >"$dir/secrets.env" <<EOF
TIMBRE_DATABASE_URL=postgresql+psycopg://timbre:$password@postgres:5432/timbre
TIMBRE_OPERATOR_SECRET=$(token 32)
TIMBRE_SERVICE_SECRET=$(token 32)
TIMBRE_WATERMARK_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TIMBRE_DATA_KEK=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TIMBRE_DATA_KEK_ID=kek-1
TIMBRE_STRIPE_WEBHOOK_SECRET=whsec_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
EOF
  echo "compose: generated secrets in $dir"
}

# The long-running services: every one but the one-shot jobs.
services() { "${compose[@]}" config --services | grep -vxE 'models|migrate'; }

wait_healthy() {
  local timeout=${TIMBRE_COMPOSE_HEALTH_TIMEOUT:-600} started=$1 pending ids id state name
  while :; do
    pending=()
    mapfile -t ids < <("${compose[@]}" ps -q $(services))
    for id in "${ids[@]}"; do
      state=$("$docker" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      name=$("$docker" inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
      case "$state" in
        "running healthy" | "running none") ;;
        exited* | dead*) fail "$name exited (${compose[*]} logs $name)" ;;
        *) pending+=("$name") ;;
      esac
    done
    if ((${#ids[@]} >= $(services | wc -l))) && ((${#pending[@]} == 0)); then
      echo "compose: all $(services | wc -l) services healthy $((SECONDS - started)) s after up"
      return
    fi
    ((SECONDS - started < timeout)) || fail "not healthy after ${timeout} s: ${pending[*]}"
    sleep 1
  done
}

case "${1:-}" in
  up)
    shift
    missing=()
    for image in "$TIMBRE_IMAGE" timbre/postgres:local timbre/kafka:local timbre/s3:local timbre/stripe-mock:local; do
      "$docker" image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
    done
    ((${#missing[@]} == 0)) || fail "images missing: ${missing[*]}; build them with 'make images'"
    [ -d "$TIMBRE_MODELS_SEED" ] || fail "no model store at $TIMBRE_MODELS_SEED; fill it with 'make models'"
    ensure_secrets
    started=$SECONDS
    "${compose[@]}" up -d "$@"
    wait_healthy "$started"
    echo "compose: gateway http://127.0.0.1:${TIMBRE_COMPOSE_GATEWAY_PORT:-18080} (project $project; secrets in $TIMBRE_COMPOSE_SECRETS)"
    ;;
  down)
    shift
    volumes=()
    [ -n "${TIMBRE_COMPOSE_VOLUMES:-}" ] && volumes=(-v)
    "${compose[@]}" down --remove-orphans "${volumes[@]}" "$@"
    ;;
  "")
    fail "usage: scripts/compose.sh up | down [-v] | <compose command>"
    ;;
  *)
    "${compose[@]}" "$@"
    ;;
esac
