"""The Helm chart (deploy/helm/timbre): scripts/check_helm.sh passes (helm lint --strict, helm template,
Kubernetes and custom-resource schemas, checkov), and the rendered manifests say what the system needs:
GPU workers where the GPUs are, KEDA on the code's topics and consumer groups, no secret value in the
chart, the security context everywhere, a NetworkPolicy per component that lets exactly the code's callers
in, and a clear failure when production values lack a Secret's name.

The tools (helm built with Go, a tools venv, npm schema packages) are pinned and cached under
~/.cache/timbre by scripts/install_deploy_tools.sh: minutes the first time, seconds after. The tests skip
only when that script reports it could not download them (exit 3: no network)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from kit.config import METRICS_PORTS, SERVICE_PORTS
from kit.events import topics as kit_topics

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "timbre"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "timbre"
HELM = CACHE / "go-bin" / "helm"
RELEASE, NAMESPACE, KUBE_VERSION = "timbre", "timbre", "1.33.0"
FULL = RELEASE  # the release is named like the chart: the fullname is the release name

# A cold machine builds helm (~3 min on 2 cores) and installs the tools venv (~1.5 min) first.
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1200)]

SETS = {
    "dev": ["-f", "values-dev.yaml"],
    "prod-cpu": ["-f", "values-prod-cpu.yaml"],
    "prod-gpu": ["-f", "values-prod-gpu.yaml"],
    "operators": ["-f", "values-prod-cpu.yaml", "-f", "values-operators.yaml"],
}
# Who calls whom (gateway/clients.py; kit/clients/tenancy.py: every service fetches tenancy's JWKS,
# synthesis and embedding reserve quotas there; the embedding edge reads usage from billing for the
# voice owner's portal).
CALLERS = {
    "tenancy": {
        "gateway",
        "billing",
        "watermark",
        "embedding",
        "embedding-worker",
        "synthesis",
        "synthesis-worker",
        "synthesis-worker-dedicated",
    },
    "billing": {"gateway", "embedding"},
    "watermark": {"gateway"},
    "embedding": {"gateway", "synthesis-worker", "synthesis-worker-dedicated"},  # builds read samples there
    "synthesis": {"gateway"},
}
SECRETISH = ("KEY", "SECRET", "PASSWORD", "TOKEN", "DATABASE_URL")


@pytest.fixture(scope="module")
def tools() -> None:
    done = subprocess.run([ROOT / "scripts" / "install_deploy_tools.sh"], capture_output=True, text=True)
    if done.returncode == 3:
        pytest.skip(f"the chart's tools could not be downloaded (offline?): {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, f"scripts/install_deploy_tools.sh failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def check(tools, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("helm")
    done = subprocess.run(
        [ROOT / "scripts" / "check_helm.sh"],
        capture_output=True,
        text=True,
        env={**os.environ, "HELM_CHECK_OUT": str(out)},
    )
    return done, out


@pytest.fixture(scope="module")
def rendered(check) -> dict[str, list[dict]]:
    _, out = check
    docs = {}
    for name in SETS:
        path = out / f"{name}.yaml"
        assert path.is_file(), f"helm template did not render {name}: see test_check_helm_passes"
        docs[name] = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def helm_template(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION, *args],
        capture_output=True,
        text=True,
        cwd=CHART,
    )


def objects(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def code_constant(path: str, name: str) -> str | None:
    """A module-level string constant of the code, read without importing it (torch)."""
    for node in ast.parse((ROOT / path).read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def test_check_helm_passes(check):
    """Lint, render, schema validation and checkov, exactly as scripts/check_helm.sh runs them."""
    done, _ = check
    assert done.returncode == 0, f"scripts/check_helm.sh failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert "0 errors" in done.stdout
    assert "Failed checks: 0" in done.stdout


def test_every_values_set_renders_each_component(rendered):
    want = {
        "tenancy",
        "billing",
        "watermark",
        "embedding",
        "embedding-worker",
        "synthesis",
        "synthesis-worker",
        "gateway",
    }
    for name, docs in rendered.items():
        deployments = {n.removeprefix(f"{FULL}-") for n in objects(docs, "Deployment")}
        assert want <= deployments, f"{name}: {sorted(want - deployments)} missing"
    assert f"{FULL}-synthesis-worker-dedicated" in objects(rendered["prod-gpu"], "Deployment")
    # The image's entry point stays (tini as PID 1); the process is its command.
    for name, pod in pod_specs(rendered["prod-cpu"]).items():
        container = pod["containers"][0]
        assert "command" not in container, name
        assert container["args"][:2] in (["python", "-m"], ["timbre", "migrate"]), name
        assert container["image"].startswith("registry.example.com/timbre/timbre:0.1.0-"), name
    dev = pod_specs(rendered["dev"])[f"{FULL}-gateway"]["containers"][0]
    assert dev["image"] == "timbre/timbre:cpu" and dev["args"] == ["python", "-m", "gateway.main"]


def test_prod_gpu_puts_synthesis_on_the_gpu_pools(rendered):
    pods = pod_specs(rendered["prod-gpu"])
    for name, pool in (
        ("synthesis-worker", "gpu"),
        ("synthesis-worker-dedicated", "enterprise-gpu"),
        ("synthesis", "gpu"),
    ):
        pod = pods[f"{FULL}-{name}"]
        container = pod["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1, name
        assert pod["nodeSelector"] == {"pool": pool}, name
        assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"]), name
        assert container["image"].split("@")[0].endswith("-cuda"), container["image"]
        shm = next(v for v in pod["volumes"] if v["name"] == "shm")
        assert shm["emptyDir"]["medium"] == "Memory"
        assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
        models = next(v for v in pod["volumes"] if v["name"] == "models")
        assert models["persistentVolumeClaim"]["claimName"] == f"{FULL}-models"
        env = env_of(container)
        assert env["TIMBRE_MODEL_PATH"]["value"] == "/models"
        assert env["TIMBRE_WORKER_CLASS"]["value"] == "gpu-nvidia-a10g"
    dedicated = pods[f"{FULL}-synthesis-worker-dedicated"]
    assert {"key": "pool", "operator": "Equal", "value": "enterprise-gpu", "effect": "NoSchedule"} in dedicated[
        "tolerations"
    ]
    pvc = objects(rendered["prod-gpu"], "PersistentVolumeClaim")[f"{FULL}-models"]
    assert pvc["spec"]["accessModes"] == ["ReadOnlyMany"]
    # CPU edges stay off the GPU pool.
    assert "nvidia.com/gpu" not in pods[f"{FULL}-embedding"]["containers"][0]["resources"]["limits"]


def test_roles_and_pools_reach_the_processes(rendered):
    pods = pod_specs(rendered["prod-cpu"])
    expected = {
        "synthesis": {"TIMBRE_ROLE": "edge", "TIMBRE_DEDICATED_TIERS": "enterprise"},
        "synthesis-worker": {"TIMBRE_ROLE": "worker", "TIMBRE_JOB_POOL": "shared"},
        "synthesis-worker-dedicated": {"TIMBRE_ROLE": "worker", "TIMBRE_JOB_POOL": "dedicated"},
        "embedding": {"TIMBRE_ROLE": "edge"},
        "embedding-worker": {"TIMBRE_ROLE": "worker"},
    }
    for name, settings in expected.items():
        env = env_of(pods[f"{FULL}-{name}"]["containers"][0])
        for key, value in settings.items():
            assert env[key]["value"] == value, (name, key)
    # Without the dedicated pool no tier may be routed to its topic (nobody would read it).
    dev = env_of(pod_specs(rendered["dev"])[f"{FULL}-synthesis"]["containers"][0])
    assert dev["TIMBRE_DEDICATED_TIERS"]["value"] == ""


def test_keda_scales_the_pools_on_the_codes_topics_and_groups(rendered):
    consumer = (ROOT / "kit" / "events" / "consumer.py").read_text()
    assert 'f"timbre.{self.name}"' in consumer, "consumer group ids changed: update the chart's KEDA triggers"
    # The code's names where it has them (the dedicated pool's are new), else the agreed ones.
    jobs_group = code_constant("services/synthesis/main.py", "JOBS_GROUP") or "synthesis-jobs"
    voices_group = code_constant("services/synthesis/main.py", "VOICES_GROUP") or "synthesis-voices"
    dedicated_group = code_constant("services/synthesis/main.py", "DEDICATED_JOBS_GROUP") or "synthesis-jobs-dedicated"
    dedicated = getattr(kit_topics, "DEDICATED_JOBS", None)
    dedicated_topic = dedicated.name if dedicated else "timbre.generation.dedicated.v1"

    scaled = objects(rendered["prod-gpu"], "ScaledObject")
    pool = scaled[f"{FULL}-synthesis-worker-dedicated"]
    assert pool["spec"]["scaleTargetRef"]["name"] == f"{FULL}-synthesis-worker-dedicated"
    assert pool["spec"]["minReplicaCount"] >= 1
    [trigger] = pool["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == dedicated_topic
    assert trigger["metadata"]["consumerGroup"] == f"timbre.{dedicated_group}"

    shared = scaled[f"{FULL}-synthesis-worker"]
    got = {(t["metadata"]["topic"], t["metadata"]["consumerGroup"]) for t in shared["spec"]["triggers"]}
    assert got == {
        (kit_topics.GENERATION_LIFECYCLE.name, f"timbre.{jobs_group}"),
        (kit_topics.VOICE_LIFECYCLE.name, f"timbre.{voices_group}"),
    }
    for so in scaled.values():
        spec = so["spec"]
        assert {"minReplicaCount", "maxReplicaCount", "cooldownPeriod", "pollingInterval"} <= set(spec)
        for t in spec["triggers"]:
            assert (
                t["metadata"]["bootstrapServers"]
                == "kafka-0.kafka.internal:9092,kafka-1.kafka.internal:9092,kafka-2.kafka.internal:9092"
            )
            assert int(t["metadata"]["lagThreshold"]) >= 1
            assert t["metadata"]["offsetResetPolicy"] == "earliest"
    # KEDA owns the replica count: the Deployment leaves it alone.
    assert "replicas" not in objects(rendered["prod-gpu"], "Deployment")[f"{FULL}-synthesis-worker"]["spec"]


def test_topic_prefix_reaches_topics_groups_and_processes(tools):
    done = helm_template("-f", "values-prod-cpu.yaml", "--set", "config.topicPrefix=stage.")
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    [trigger] = objects(docs, "ScaledObject")[f"{FULL}-synthesis-worker-dedicated"]["spec"]["triggers"]
    assert trigger["metadata"]["topic"] == "stage.timbre.generation.dedicated.v1"
    assert trigger["metadata"]["consumerGroup"] == "stage.timbre.synthesis-jobs-dedicated"
    env = env_of(pod_specs(docs)[f"{FULL}-synthesis-worker"]["containers"][0])
    assert env["TIMBRE_TOPIC_PREFIX"]["value"] == "stage."


def test_kafka_sasl_adds_a_trigger_authentication(tools):
    done = helm_template(
        "-f",
        "values-prod-cpu.yaml",
        "--set",
        "kafka.sasl.enabled=true",
        "--set",
        "kafka.sasl.existingSecret=kafka-sasl",
    )
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    [auth] = objects(docs, "TriggerAuthentication").values()
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"username", "password"}
    assert all(r["name"] == "kafka-sasl" for r in auth["spec"]["secretTargetRef"])
    for so in objects(docs, "ScaledObject").values():
        for t in so["spec"]["triggers"]:
            assert t["authenticationRef"]["name"] == auth["metadata"]["name"]
            assert t["metadata"]["sasl"] == "scram_sha512"


def test_no_secret_value_in_the_chart(rendered):
    for name, docs in rendered.items():
        assert not objects(docs, "Secret"), f"{name}: the chart must not create Secrets"
        for pod_name, pod in pod_specs(docs).items():
            for container in pod["containers"] + pod.get("initContainers", []):
                for var in container.get("env", []):
                    if not any(word in var["name"] for word in SECRETISH):
                        continue
                    where = f"{name}: {pod_name}/{container['name']} {var['name']}"
                    if "valueFrom" in var:
                        assert "secretKeyRef" in var["valueFrom"], where
                    else:
                        # Only the composed database URL, whose password is a reference to a Secret-fed variable.
                        assert var["name"] == "TIMBRE_DATABASE_URL", where
                        assert ":$(TIMBRE_DB_PASSWORD)@" in var["value"], where


def test_every_pod_runs_locked_down(rendered):
    for name, docs in rendered.items():
        for pod_name, pod in pod_specs(docs).items():
            where = f"{name}: {pod_name}"
            ctx = pod["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == 10001, where
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
            assert pod["automountServiceAccountToken"] is False, where
            assert pod["enableServiceLinks"] is False, where
            tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
            assert "emptyDir" in tmp, where
            for container in pod["containers"] + pod.get("initContainers", []):
                c = container["securityContext"]
                assert c["readOnlyRootFilesystem"] is True, where
                assert c["allowPrivilegeEscalation"] is False, where
                assert c["capabilities"]["drop"] == ["ALL"], where
                assert c["runAsNonRoot"] is True and c["runAsUser"] == 10001, where
                assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
                assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
                assert "memory" in container["resources"]["limits"], where


def test_probes_use_grpc_health_and_wait_for_the_speaker_index(rendered):
    pods = pod_specs(rendered["prod-cpu"])
    for name, pod in pods.items():
        if name.endswith("-migrate"):
            continue
        container = pod["containers"][0]
        probes = {k: container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        if name == f"{FULL}-gateway":
            assert probes["readinessProbe"]["httpGet"]["path"] == "/ready"
            assert probes["livenessProbe"]["httpGet"]["path"] == "/health"
        else:
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
            assert all(p["grpc"]["port"] == port for p in probes.values()), name
    for name in ("embedding", "embedding-worker"):
        startup = pods[f"{FULL}-{name}"]["containers"][0]["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, name


def test_ports_and_grpc_targets_follow_the_code(rendered):
    docs = rendered["prod-cpu"]
    services = objects(docs, "Service")
    pods = pod_specs(docs)
    for service, port in SERVICE_PORTS.items():
        svc = services[f"{FULL}-{service}"]
        assert svc["spec"]["clusterIP"] == "None", f"{service}: gRPC clients balance over a headless Service"
        ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        assert ports == {"grpc": port, "metrics": METRICS_PORTS[service]}
        env = env_of(pods[f"{FULL}-{service}"]["containers"][0])
        assert env["TIMBRE_GRPC_PORT"]["value"] == str(port)
        assert env["TIMBRE_METRICS_PORT"]["value"] == str(METRICS_PORTS[service])
        assert env["TIMBRE_GRPC_HOST"]["value"] == "0.0.0.0"
        target = f"dns:///{FULL}-{service}.{NAMESPACE}.svc.cluster.local:{port}"
        gateway = env_of(pods[f"{FULL}-gateway"]["containers"][0])
        assert gateway[f"TIMBRE_{service.upper()}_ADDR"]["value"] == target
    assert services[f"{FULL}-gateway"]["spec"]["ports"][0]["targetPort"] == "http"


def test_network_policies_let_in_exactly_the_callers(rendered):
    for name, docs in rendered.items():
        policies = objects(docs, "NetworkPolicy")
        deny = policies[f"{FULL}-default-deny"]
        assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"], name
        for deployment in objects(docs, "Deployment"):
            policy = policies[deployment]
            assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"], deployment
            component = deployment.removeprefix(f"{FULL}-")
            assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
        enabled = {d.removeprefix(f"{FULL}-") for d in objects(docs, "Deployment")}
        for service, callers in CALLERS.items():
            rules = policies[f"{FULL}-{service}"]["spec"]["ingress"]
            grpc = [r for r in rules if r["ports"] == [{"port": SERVICE_PORTS[service], "protocol": "TCP"}]]
            assert len(grpc) == 1, (name, service)
            allowed = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in grpc[0]["from"]}
            assert allowed == callers & enabled, (name, service)
    policies = objects(rendered["prod-cpu"], "NetworkPolicy")
    gateway = policies[f"{FULL}-gateway"]["spec"]
    assert gateway["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    gateway_egress_ports = {p["port"] for rule in gateway["egress"] for p in rule["ports"]}
    assert gateway_egress_ports == {53, *SERVICE_PORTS.values()}, "the gateway reaches DNS and the gRPC edges only"

    def public_443(policy: str) -> bool:
        return any(
            rule["ports"] == [{"port": 443, "protocol": "TCP"}]
            and any("169.254.0.0/16" in peer.get("ipBlock", {}).get("except", []) for peer in rule.get("to", []))
            for rule in policies[f"{FULL}-{policy}"]["spec"]["egress"]
        )

    assert public_443("billing"), "billing reaches Stripe"
    assert public_443("synthesis-worker") and public_443("synthesis-worker-dedicated"), "webhooks"
    assert not public_443("tenancy") and not public_443("synthesis"), "no HTTPS to the internet elsewhere"


def test_production_values_without_secret_names_fail_clearly(tools):
    for missing, message in (
        ("secrets.existingSecret", "secrets.existingSecret is required"),
        ("database.existingSecret", "database.existingSecret is required"),
        ("objectStore.existingSecret", "objectStore.existingSecret is required"),
        ("stripe.existingSecret", "stripe.existingSecret is required when production is true"),
    ):
        done = helm_template("-f", "values-prod-gpu.yaml", "--set", f"{missing}=")
        assert done.returncode != 0, f"rendered without {missing}"
        assert message in done.stderr, done.stderr
    # Development may leave Stripe out (billing keeps its ledger); the operator secret is then optional.
    done = helm_template("-f", "values-dev.yaml")
    assert done.returncode == 0, done.stderr
    pods = pod_specs([d for d in yaml.safe_load_all(done.stdout) if d])
    assert "TIMBRE_STRIPE_API_KEY" not in env_of(pods[f"{FULL}-billing"]["containers"][0])
    # The dedicated pool may not scale to zero: enterprise jobs would wait for a cold start.
    done = helm_template("-f", "values-prod-gpu.yaml", "--set", "synthesisWorkerDedicated.keda.minReplicaCount=0")
    assert done.returncode != 0 and "minReplicaCount must be at least 1" in done.stderr


def test_migrations_run_as_a_hook_before_the_pods(rendered):
    job = objects(rendered["prod-cpu"], "Job")[f"{FULL}-migrate"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    container = job["spec"]["template"]["spec"]["containers"][0]
    # The job queues get a partition per worker the largest pool may run (prod-cpu: 12 shared workers).
    assert container["args"] == ["timbre", "migrate", "--job-partitions=12"]
    pools = objects(rendered["prod-cpu"], "ScaledObject").values()
    assert max(so["spec"]["maxReplicaCount"] for so in pools) == 12
    sa = objects(rendered["prod-cpu"], "ServiceAccount")[job["spec"]["template"]["spec"]["serviceAccountName"]]
    assert "pre-install" in sa["metadata"]["annotations"]["helm.sh/hook"], "the Job's account exists at hook time"


def test_operators_overlay_renders_the_stores_and_wires_them(rendered):
    docs = rendered["operators"]
    [kafka] = objects(docs, "Kafka").values()
    [cluster] = objects(docs, "Cluster").values()
    topics = {t["spec"]["topicName"]: t["spec"] for t in objects(docs, "KafkaTopic").values()}
    services = ["tenancy", "embedding", "synthesis", "watermark", "billing"]
    for spec in kit_topics.specs_for(services):
        assert spec.name in topics, f"no KafkaTopic for {spec.name} (kit/events/topics.py)"
        assert topics[spec.name]["partitions"] >= spec.partitions, spec.name
        for key, value in spec.config.items():
            assert str(topics[spec.name]["config"][key]) == value, (spec.name, key)
    env = env_of(pod_specs(docs)[f"{FULL}-tenancy"]["containers"][0])
    assert env["TIMBRE_KAFKA_BOOTSTRAP"]["value"].startswith(f"{kafka['metadata']['name']}-kafka-bootstrap.")
    password = env["TIMBRE_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": f"{cluster['metadata']['name']}-app", "key": "password"}
    assert env["TIMBRE_DATABASE_URL"]["value"].startswith("postgresql+psycopg://timbre:$(TIMBRE_DB_PASSWORD)@")
    for name in (kit_topics.GENERATION_LIFECYCLE.name, "timbre.generation.dedicated.v1"):
        assert topics[name]["partitions"] == 12, "a partition per worker of the largest pool"
    job = objects(docs, "Job")[f"{FULL}-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["initContainers"][0]["name"] == "wait-for-stores"
    for store in (kafka, cluster):
        assert store["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        # Not selected by the release's default-deny policy.
        assert store["metadata"]["labels"].get("app.kubernetes.io/name") != "timbre"


def test_production_monitoring_objects(rendered):
    docs = rendered["prod-gpu"]
    [monitor] = objects(docs, "ServiceMonitor").values()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"metrics", "http"}
    [rule] = objects(docs, "PrometheusRule").values()
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {
        "TimbreErrorBudgetBurnFast",
        "TimbreErrorBudgetBurnSlow",
        "TimbreGrpcErrorRateHigh",
        "TimbreSynthesisQueueLagHigh",
        "TimbrePodsNotReady",
    } <= set(alerts)
    fast, slow = alerts["TimbreErrorBudgetBurnFast"]["expr"], alerts["TimbreErrorBudgetBurnSlow"]["expr"]
    assert "rate1h" in fast and "rate5m" in fast and "14.4 * 0.001" in fast
    assert "rate6h" in slow and "rate30m" in slow and "6 * 0.001" in slow
    dashboards = [
        c for c in objects(docs, "ConfigMap").values() if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    [dashboard] = dashboards
    panels = json.loads(dashboard["data"]["timbre.json"])["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in (
        "voice_synthesis_requests_total",
        "voice_synthesis_duration_seconds_bucket",
        "voice_queue_depth",
        "voice_characters_processed_total",
        "DCGM_FI_DEV_GPU_UTIL",
        "timbre_cost_per_request_usd",
        "voice_synthesis_first_chunk_seconds_bucket",
        "timbre_http_requests_total",
    ):
        assert metric in exprs, metric
    # Off by default (dev): the CRDs may not exist in a dev cluster.
    assert not objects(rendered["dev"], "ServiceMonitor") and not objects(rendered["dev"], "PrometheusRule")


def test_images_pin_by_digest_per_variant(tools):
    digest = "sha256:" + "ab" * 32
    done = helm_template("-f", "values-prod-gpu.yaml", "--set", f"image.digests.cuda={digest}")
    assert done.returncode == 0, done.stderr
    pods = pod_specs([d for d in yaml.safe_load_all(done.stdout) if d])
    worker = pods[f"{FULL}-synthesis-worker"]["containers"][0]["image"]
    assert worker == f"registry.example.com/timbre/timbre:0.1.0-cuda@{digest}"
    assert "@" not in pods[f"{FULL}-tenancy"]["containers"][0]["image"], "the cpu variant has no digest set"
