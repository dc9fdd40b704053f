#!/usr/bin/env bash
# Builds Timbre's container images (deploy/docker) on Timbre's Docker daemon (scripts/start_dockerd.sh):
#   timbre/base:bookworm      a Debian bookworm minbase made here by debootstrap and `docker import`
#                             (no image registry is needed; the rootfs tarball is kept in ~/.cache/timbre/images)
#   timbre/timbre:$VARIANT    every service, the gateway and the CLI (VARIANT=cpu by default, or cuda)
#   timbre/kafka:local        Kafka (KRaft) with the local stack's jars (~/.cache/timbre/kafka-*/libs)
#   timbre/postgres:local     PostgreSQL 15 (Debian's)
#   timbre/s3:local           moto's S3 server
#   timbre/stripe-mock:local  stripe-mock (scripts/install_stripe_mock.sh's binary)
# Idempotent: BuildKit's cache makes an unchanged image a few seconds' work; apt's downloads and a
# wheelhouse of the lock's wheels are kept in BuildKit cache mounts, so a lock change fetches only the
# wheels that changed.
#
#   usage: scripts/build_images.sh [base|timbre|kafka|postgres|s3|stripe-mock ...]   (default: all)
#   env:   VARIANT=cpu|cuda, TORCH_INDEX_URL (cpu only: the CPU wheel index, e.g.
#          https://download.pytorch.org/whl/cpu), TIMBRE_REFRESH_BASE=1 (debootstrap a new rootfs),
#          DEBIAN_MIRROR, TIMBRE_BUILD_VERBOSE=1 (BuildKit's output on the terminal, not in a log),
#          TIMBRE_CA_BUNDLE (CA certificates pip trusts in the build; default: this machine's bundle)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
variant=${VARIANT:-cpu}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/timbre"
images="$cache/images"
logs="$images/logs"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
base_tag=timbre/base:$suite
docker="${TIMBRE_DOCKER:-/usr/bin/docker}"
[ -x "$docker" ] || docker=$(command -v docker)
ca_bundle=${TIMBRE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

say() { echo "build_images: $*"; }
fail() {
  echo "build_images: $*" >&2
  exit 1
}
case "$variant" in cpu | cuda) ;; *) fail "VARIANT=$variant: use cpu or cuda" ;; esac

scripts/start_dockerd.sh
DOCKER_HOST=$(scripts/start_dockerd.sh --host)
export DOCKER_HOST DOCKER_BUILDKIT=1
mkdir -p "$images" "$logs"
started_all=$SECONDS

# --- the base rootfs and image -------------------------------------------------------------------

rootfs_tar="$images/debian-$suite-minbase.tar"

make_rootfs() {
  [ "$(id -u)" = 0 ] || fail "debootstrap needs root to make $rootfs_tar"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
  local dir
  dir=$(mktemp -d "$images/rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" EXIT
  say "debootstrap --variant=minbase $suite from $mirror (about a minute)"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    fail "debootstrap failed (log: $logs/debootstrap.log)"
  # Sources with updates and security; no recommends; downloaded packages kept (the Dockerfiles mount
  # /var/cache/apt as a BuildKit cache); no documentation, manuals or translations in any image.
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$dir/etc/apt/apt.conf.d/90timbre" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Get::Assume-Yes "true";
Acquire::Languages "none";
Binary::apt::APT::Keep-Downloaded-Packages "true";
Dpkg::Use-Pty "false";
quiet "1";
EOF
  cat >"$dir/etc/dpkg/dpkg.cfg.d/90timbre-slim" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/{man,info,lintian}/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* \
    "$dir"/var/log/* "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old "$dir"/dev/* "$dir"/run/*
  find "$dir/usr/share/locale" -mindepth 1 ! -name locale.alias -delete
  : >"$dir/etc/hostname"
  tar --numeric-owner -C "$dir" -cf "$rootfs_tar.new" .
  sha256sum "$rootfs_tar.new" | cut -d' ' -f1 >"$rootfs_tar.sha256"
  mv "$rootfs_tar.new" "$rootfs_tar"
  rm -rf "$dir"
  trap - EXIT
  say "rootfs $rootfs_tar: $(du -h "$rootfs_tar" | cut -f1)"
}

build_base() {
  if [ ! -s "$rootfs_tar" ] || [ ! -s "$rootfs_tar.sha256" ] || [ -n "${TIMBRE_REFRESH_BASE:-}" ]; then
    make_rootfs
  fi
  local sha
  sha=$(cat "$rootfs_tar.sha256")
  if [ "$("$docker" image inspect -f '{{index .Config.Labels "org.timbre.rootfs-sha256"}}' "$base_tag" 2>/dev/null)" = "$sha" ]; then
    return
  fi
  "$docker" import \
    --change "LABEL org.timbre.rootfs-sha256=$sha org.timbre.component=timbre/base" \
    --change "ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'CMD ["bash"]' \
    "$rootfs_tar" "$base_tag" >/dev/null
  say "$base_tag imported from $rootfs_tar"
}

# --- building one image from a tar stream on stdin ----------------------------------------------

# build <tag> <Dockerfile in the context> [docker build args...] < context.tar
build() {
  local tag=$1 dockerfile=$2 log="$logs/${1//[\/:]/_}.log" started=$SECONDS
  shift 2
  local args=(build --network host -f "$dockerfile" -t "$tag" --label "org.timbre.component=${tag%%:*}" "$@")
  # pip inside the build trusts what this machine trusts (a TLS-intercepting proxy's CA, say), not
  # only certifi's list; a BuildKit secret: it never lands in a layer nor in the cache key.
  [ -s "$ca_bundle" ] && args+=(--secret "id=ca-bundle,src=$ca_bundle")
  args+=(-)
  if [ -n "${TIMBRE_BUILD_VERBOSE:-}" ]; then
    "$docker" "${args[@]}" --progress plain || fail "building $tag failed"
  elif ! "$docker" "${args[@]}" --progress plain >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "building $tag failed (whole log: $log)"
  fi
  say "$tag ready in $((SECONDS - started)) s"
}

build_timbre() {
  local index=()
  [ -n "${TORCH_INDEX_URL:-}" ] && index=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
  # The context: the working tree's files that git tracks or would track (nothing ignored: no .venv,
  # .run, caches), and the console's build output, which git ignores, by name.
  [ -f console/dist/index.html ] || fail "the console is not built: run \`make console\` (\`make images\` does)"
  {
    git ls-files -z --cached --others --exclude-standard -- pyproject.toml buf.yaml buf.gen.yaml requirements/base.lock \
      proto scripts/protoc_gen_grpc_python.py timbre/__init__.py kit services gateway cli devstack deploy/docker
    find console/dist -type f -print0
  } | tar --null -T - --ignore-failed-read -cf - 2>/dev/null |
    build "timbre/timbre:$variant" deploy/docker/Dockerfile --target "$variant" \
      --build-arg "VARIANT=$variant" --build-arg "BASE_IMAGE=$base_tag" "${index[@]}"
}

build_kafka() {
  local version
  version=$(sed -n 's/^KAFKA_VERSION = "\(.*\)"/\1/p' devstack/infra.py)
  local libs="$cache/kafka-$version/libs"
  if ! compgen -G "$libs/kafka_2.13-*.jar" >/dev/null; then
    command -v mvn >/dev/null || fail "mvn is needed once to fetch Kafka's jars (scripts/install_system.sh installs it)"
    say "fetching Kafka $version's jars with Maven into $libs"
    mkdir -p "$libs"
    mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
  fi
  tar -cf - -C "$repo" deploy/docker/Dockerfile.kafka deploy/docker/kafka deploy/kafka/log4j2.properties \
    -C "$cache" "kafka-$version/libs" |
    build timbre/kafka:local deploy/docker/Dockerfile.kafka --build-arg "KAFKA_VERSION=$version" --build-arg "BASE_IMAGE=$base_tag"
}

build_postgres() {
  tar -cf - deploy/docker/Dockerfile.postgres deploy/docker/postgres |
    build timbre/postgres:local deploy/docker/Dockerfile.postgres --build-arg "BASE_IMAGE=$base_tag"
}

build_s3() {
  tar -cf - deploy/docker/Dockerfile.s3 requirements/base.lock |
    build timbre/s3:local deploy/docker/Dockerfile.s3 --build-arg "BASE_IMAGE=$base_tag"
}

build_stripe_mock() {
  scripts/install_stripe_mock.sh
  local version
  version=$(sed -n 's/^version=//p' scripts/install_stripe_mock.sh)
  tar -cf - -C "$repo" deploy/docker/Dockerfile.stripe-mock -C "$cache" go-bin/stripe-mock |
    build timbre/stripe-mock:local deploy/docker/Dockerfile.stripe-mock --build-arg "STRIPE_MOCK_VERSION=$version" \
      --build-arg "BASE_IMAGE=$base_tag"
}

targets=("$@")
((${#targets[@]})) || targets=(base timbre kafka postgres s3 stripe-mock)
build_base
for target in "${targets[@]}"; do
  case "$target" in
    base) ;;
    timbre) build_timbre ;;
    kafka) build_kafka ;;
    postgres) build_postgres ;;
    s3) build_s3 ;;
    stripe-mock) build_stripe_mock ;;
    *) fail "unknown image $target (base timbre kafka postgres s3 stripe-mock)" ;;
  esac
done

# Earlier builds of these tags, now untagged, give their disk back (only Timbre's images).
"$docker" image prune -f --filter label=org.timbre.component >/dev/null
say "done in $((SECONDS - started_all)) s; images:"
"$docker" images --filter label=org.timbre.component --format '  {{.Repository}}:{{.Tag}}  {{.Size}}  (created {{.CreatedSince}})'
say "docker data root $("$docker" info -f '{{.DockerRootDir}}'): $(du -sh "$("$docker" info -f '{{.DockerRootDir}}')" 2>/dev/null | cut -f1)"
