"""Build-time helper of deploy/docker/Dockerfile.

split  <lock> <pyproject> <out-dir> <variant> <torch-index-url>      (Debian's python3, stdlib only)
       writes heavy.txt (torch, torchaudio and the nvidia-* CUDA wheels: ~6 GB that change only with
       torch), light.txt (the rest of the lock but the dev extra's tools) and runtime.txt (the
       project's own requirements, no dev extra). Separate files keep the layers apart: a lock change
       elsewhere reinstalls only the light part, from pip's cache. With VARIANT=cpu and a
       TORCH_INDEX_URL (the CPU wheel index), torch and torchaudio come from there and the nvidia-*
       wheels are left out.
prune  <light-site> <heavy-site> <runtime.txt> <dev-prefix>         (the venv's python: packaging)
       moves every distribution of light-site that the runtime requirements do not reach (buf and
       what only the dev tools need) out of it, into dev-prefix: the image keeps the runtime closure
       only, and the build can still use buf from dev-prefix.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import Distribution, distributions
from pathlib import Path

HEAVY = re.compile(r"^(torch|torchaudio|nvidia-[a-z0-9-]+)==", re.IGNORECASE)


def split(lock: str, pyproject: str, out: str, variant: str, torch_index: str) -> None:
    if variant not in ("cpu", "cuda"):
        sys.exit(f"VARIANT={variant!r}: use cpu or cuda")
    if torch_index and variant != "cpu":
        sys.exit("TORCH_INDEX_URL is for VARIANT=cpu (the CPU wheel index); the cuda variant uses PyPI's torch")
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    # The dev extra's own tools (pytest, ruff, mypy, moto, pesq: an sdist needing a compiler...) are not
    # installed at all; buf is, for `buf generate` in the build. What only they need is pruned later.
    runtime_names = {_requirement_name(r) for r in project["dependencies"]}
    skip = {_requirement_name(r) for r in project.get("optional-dependencies", {}).get("dev", [])}
    skip -= runtime_names | {"buf-bin"}
    pins = [line.strip() for line in Path(lock).read_text().splitlines() if "==" in line and not line.startswith("#")]
    pins = [p for p in pins if _name(p.split("==")[0]) not in skip]
    heavy = [p for p in pins if HEAVY.match(p)]
    light = [p for p in pins if not HEAVY.match(p)]
    if torch_index:
        heavy = [p for p in heavy if not p.lower().startswith("nvidia-")]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "heavy.txt").write_text("\n".join(heavy) + "\n")
    (folder / "light.txt").write_text("\n".join(light) + "\n")
    (folder / "runtime.txt").write_text("\n".join(project["dependencies"]) + "\n")


def fetch(wheelhouse: str, pins_file: str, *pip_options: str) -> None:
    folder = Path(wheelhouse)
    folder.mkdir(parents=True, exist_ok=True)
    pins = {}
    for line in Path(pins_file).read_text().splitlines():
        if "==" in line:
            name, version = line.strip().split("==", 1)
            pins[(_wheel_name(name), version)] = line.strip()
    present = set()
    for wheel in folder.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        key = (_wheel_name(name), version.split("+")[0])
        if key in pins:
            present.add(key)
        else:
            wheel.unlink()  # a pin of an earlier lock
    missing = [line for key, line in pins.items() if key not in present]
    print(
        f"wheelhouse {folder}: {len(present)} of {len(pins)} pinned wheels present, fetching {len(missing)}", flush=True
    )
    if missing:
        # `pip wheel`: downloads wheels as they are and builds the few sdists (docopt) into wheels, so
        # that the install can run from the wheelhouse alone (--no-index).
        command = ["/opt/venv/bin/pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps"]
        subprocess.run([*command, "-w", str(folder), *pip_options, *missing], check=True)


def _wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _requirement_name(requirement: str) -> str:
    return _name(re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0])


def prune(light_site: str, heavy_site: str, runtime: str, dev_prefix: str) -> None:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.requirements import Requirement

    site = Path(light_site).resolve()
    prefix = site.parents[2]  # <prefix>/lib/python3.X/site-packages
    found = {_name(d.metadata["Name"]): d for d in distributions(path=[str(site), heavy_site])}
    keep: set[str] = set()
    todo = [(Requirement(line), ()) for line in Path(runtime).read_text().splitlines() if line.strip()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, _ = todo.pop()
        name, extras = _name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        keep.add(name)
        dist = found.get(name)
        for text in (dist.requires or []) if dist else []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in ["", *extras]):
                todo.append((needed, ()))
    moved = []
    for name, dist in sorted(found.items()):
        if name in keep or not _located_in(dist, site):
            continue
        for entry in dist.files or []:
            source = Path(dist.locate_file(entry)).resolve()
            if not source.is_relative_to(prefix) or not (source.exists() or source.is_symlink()):
                continue
            target = Path(dev_prefix) / source.relative_to(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), target)
        moved.append(name)
    for folder in sorted((p for p in prefix.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    print(f"venv: {len(keep & set(found))} runtime distributions kept; moved out {len(moved)}: {' '.join(moved)}")


def _located_in(dist: Distribution, site: Path) -> bool:
    return Path(dist.locate_file("")).resolve() == site


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"split": split, "fetch": fetch, "prune": prune}[command](*args)
