"""Infrastructure of the local stack: a private PostgreSQL 15 cluster, Apache Kafka in KRaft mode
and (when S3 storage is selected) a moto S3 server. Each start is idempotent."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from devstack.processes import Paths, alive, port_open, read_pid, spawn, terminate, wait_for

REPO = Path(__file__).resolve().parents[1]
KAFKA_VERSION = "4.4.0"
PG_BIN_CANDIDATES = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/local/bin"), Path("/usr/bin")]


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "timbre"


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_bin(tool: str) -> str:
    for folder in PG_BIN_CANDIDATES:
        if (folder / tool).exists():
            return str(folder / tool)
    raise FileNotFoundError(f"PostgreSQL 15 binary {tool!r} not found; install Debian's postgresql-15")


def _as_pg_user(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the 'postgres' system user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def postgres_up(paths: Paths, port: int, durable: bool = False) -> str:
    data = paths.root / "pg"
    sockets = paths.root / "pg-sock"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for folder in (data, sockets):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chmod(data, 0o700)
        # The postgres user must be able to traverse to the data folder.
        for parent in data.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_pg_user(
                [pg_bin("initdb"), "-D", str(data), "-U", "timbre", "--auth=trust", "-E", "UTF8", "--no-instructions"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not port_open(port):
        log = paths.log_file("postgres")
        log.touch()
        if os.geteuid() == 0:
            os.chown(log, pwd.getpwnam("postgres").pw_uid, -1)
        # Development trades durability for speed: a crash loses the last commits. `durable` keeps
        # PostgreSQL's defaults, for whoever crashes it on purpose (the fault suite).
        relaxed = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} {relaxed}-c max_connections=300"
        subprocess.run(
            _as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    ensure_database(port, "timbre")
    return f"postgresql://timbre@127.0.0.1:{port}/timbre"


def ensure_database(port: int, name: str) -> None:
    psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "timbre", "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
    exists = subprocess.run(
        [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if exists != "1":
        subprocess.run([*psql, "-c", f'CREATE DATABASE "{name}"'], check=True, stdout=subprocess.DEVNULL)


def postgres_down(paths: Paths) -> bool:
    return _postgres_stop(paths, "fast")


def postgres_crash(paths: Paths) -> bool:
    """Stop the cluster in `paths` as a crash would (immediate mode: every backend quits at once, no
    checkpoint; the next start runs crash recovery). For the fault suite; never used on the shared stack."""
    return _postgres_stop(paths, "immediate")


def _postgres_stop(paths: Paths, mode: str) -> bool:
    """pg_ctl stop in `mode`; False when the cluster in `paths` is not running."""
    data = paths.root / "pg"
    if not (data / "postmaster.pid").exists():
        return False
    subprocess.run(
        _as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return True


# --- Kafka --------------------------------------------------------------------------------------


def kafka_libs() -> Path:
    """Broker jars resolved from Maven Central by deploy/kafka/pom.xml, cached under ~/.cache."""
    libs = _cache() / f"kafka-{KAFKA_VERSION}" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        libs.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(REPO / "deploy/kafka/pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ],
            check=True,
        )
    return libs


def _kafka_properties(data: Path, port: int, controller_port: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data}",
            "num.partitions=3",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.cleaner.backoff.ms=1000",
            "",
        ]
    )


def kafka_up(paths: Paths, port: int, controller_port: int) -> str:
    if port_open(port) and read_pid(paths, "kafka"):
        return f"127.0.0.1:{port}"
    java = shutil.which("java")
    if java is None:
        raise FileNotFoundError("java not found; install openjdk-17-jre-headless")
    libs = kafka_libs()
    home = paths.root / "kafka"
    data = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(_kafka_properties(data, port, controller_port))
    classpath = f"{libs}/*"
    jvm = [
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={REPO / 'deploy/kafka/log4j2.properties'}",
    ]
    if not (data / "meta.properties").exists():
        cluster_id = uuid.uuid4().hex[:22]
        subprocess.run(
            [java, *jvm, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    spawn(paths, "kafka", [java, *jvm, "-cp", classpath, "kafka.Kafka", str(config)])
    bootstrap = f"127.0.0.1:{port}"
    wait_for(lambda: _kafka_ready(bootstrap), 90, "Kafka")
    return bootstrap


def _kafka_ready(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    if not port_open(int(bootstrap.rsplit(":", 1)[1])):
        return False
    try:
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
        return bool(metadata.brokers)
    except Exception:  # noqa: BLE001 - not ready yet
        return False


def kafka_down(paths: Paths) -> bool:
    return terminate(paths, "kafka", timeout=30)


def kafka_crash(paths: Paths) -> bool:
    """SIGKILL the broker in `paths` (no controlled shutdown, no log flush); True if one ran."""
    pid = read_pid(paths, "kafka")
    paths.pid_file("kafka").unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGKILL)  # spawn() made it a session (and group) leader
    wait_for(lambda: not alive(pid), 30, "the killed Kafka broker to exit")
    return True


# --- S3 (moto) ----------------------------------------------------------------------------------


def s3_up(paths: Paths, port: int) -> str:
    if not (port_open(port) and read_pid(paths, "s3")):
        moto = Path(sys.executable).with_name("moto_server")
        spawn(paths, "s3", [str(moto), "-H", "127.0.0.1", "-p", str(port)])
        wait_for(lambda: port_open(port), 30, "moto S3 server")
    return f"127.0.0.1:{port}"


def s3_down(paths: Paths) -> bool:
    return terminate(paths, "s3")


# --- Stripe (stripe-mock) -----------------------------------------------------------------------

# A fixed test key, no secret: stripe-mock accepts any sk_test_<anything without "_"> (or rk_test_) key.
STRIPE_MOCK_API_KEY = "sk_test_timbrelocal"


def stripe_mock_binary() -> Path:
    """Where scripts/install_stripe_mock.sh puts the pinned stripe-mock (docs/stripe-local.md)."""
    return _cache() / "go-bin" / "stripe-mock"


def stripe_mock_up(paths: Paths, port: int, https_port: int) -> str:
    """Stripe's official mock API server on 127.0.0.1 (installed with Go when missing); its base URL."""
    base = f"http://127.0.0.1:{port}"
    # A port that answers is taken as the server: concurrent test runs may race to start it.
    if port_open(port):
        return base
    subprocess.run([str(REPO / "scripts/install_stripe_mock.sh")], check=True)
    argv = [str(stripe_mock_binary()), "-http-addr", f"127.0.0.1:{port}", "-https-addr", f"127.0.0.1:{https_port}"]
    spawn(paths, "stripe-mock", argv)
    wait_for(lambda: port_open(port), 30, "stripe-mock")
    return base


def stripe_mock_down(paths: Paths) -> bool:
    return terminate(paths, "stripe-mock")
