"""Validates rendered manifests (scripts/check_helm.sh runs it with the tools venv's Python).

  python validate_manifests.py --kube-version 1.29.0 --kube-version 1.33.0 --npm-modules DIR FILE.yaml...

- Kubernetes' own kinds: against the JSON schemas of each pinned Kubernetes version, strictly (unknown
  fields are errors), with kubernetes-validate (PyPI; its schemas are the API's OpenAPI documents).
- Custom resources (KEDA, Prometheus Operator, Strimzi, CloudNativePG): against their operators'
  schemas from npm (deploy/helm/tools/validate_crs.mjs; types, enums and required fields).
- Every object: apiVersion, kind, metadata.name and metadata.namespace (the release's) are set, and no
  two objects share kind + name.
A kind that neither knows is an error, not a skip. Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

HERE = Path(__file__).resolve().parent
CUSTOM_GROUPS = {"keda.sh", "monitoring.coreos.com", "kafka.strimzi.io", "postgresql.cnpg.io"}
# Kinds without a namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", action="append", required=True)
    parser.add_argument("--npm-modules", required=True, type=Path)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()

    errors: list[str] = []
    custom: list[dict] = []
    counted = 0
    for path in args.files:
        seen: set[tuple[str, str]] = set()
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            counted += 1
            kind, meta = doc.get("kind"), doc.get("metadata") or {}
            name = f"{path.name}: {kind}/{meta.get('name')}"
            if not doc.get("apiVersion") or not kind or not meta.get("name"):
                errors.append(f"{name}: apiVersion, kind and metadata.name are required")
                continue
            if kind not in CLUSTER_SCOPED and meta.get("namespace") != args.namespace:
                errors.append(f"{name}: metadata.namespace is {meta.get('namespace')!r}, not the release's")
            if (kind, meta["name"]) in seen:
                errors.append(f"{name}: rendered twice")
            seen.add((kind, meta["name"]))
            group = group_of(doc["apiVersion"])
            if group in CUSTOM_GROUPS:
                custom.append({**doc, "_source": path.name})
                continue
            for version in args.kube_version:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except ValidationError as error:
                    where = ".".join(str(p) for p in error.path)
                    errors.append(f"{name}: Kubernetes {version}: {where}: {error.message}")
                except SchemaNotFoundError as error:
                    errors.append(f"{name}: {error.message} (and it is no known custom resource)")
    if custom:
        payload = json.dumps([{k: v for k, v in d.items() if k != "_source"} for d in custom])
        node = subprocess.run(
            ["node", str(HERE / "validate_crs.mjs"), str(args.npm_modules)],
            input=payload,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = node.stdout.splitlines()
        for line, doc in zip(lines, custom, strict=False):
            if line.startswith("ERROR"):
                errors.append(f"{doc['_source']}: {line.removeprefix('ERROR ')}")
        # One verdict line per object, and exit 0 (all valid) or 1 (some not): anything else is a crash.
        if len(lines) != len(custom) or node.returncode not in (0, 1):
            errors.append(f"validate_crs.mjs failed ({node.returncode}): {node.stderr.strip()[-2000:]}")
    for error in errors:
        print(f"ERROR {error}")
    versions = ", ".join(args.kube_version)
    print(
        f"validate_manifests: {counted} objects in {len(args.files)} files; "
        f"{counted - len(custom)} against Kubernetes {versions}, {len(custom)} custom resources against their "
        f"operators' schemas; {len(errors)} errors"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
