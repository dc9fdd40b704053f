"""Reading the model store. A missing model is a clear error that names the fetch command."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kit.errors import FailedPrecondition
from kit.models.registry import MODELS, ModelSpec

MANIFEST = "MODEL.json"


def default_model_path() -> Path:
    return Path(
        os.environ.get("TIMBRE_MODEL_PATH")
        or os.environ.get("MODEL_PATH")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "timbre" / "models"
    )


class ModelMissing(FailedPrecondition):
    default_reason = "MODEL_MISSING"


class ModelStore:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root else default_model_path()

    def folder(self, name: str) -> Path:
        return self.root / name

    def require(self, name: str, *files: str) -> Path:
        """The model's folder; raises ModelMissing (with the command that fixes it) if incomplete."""
        folder = self.folder(name)
        spec = MODELS.get(name)
        wanted = files or (tuple(spec.files.values()) if spec else ())
        missing = [f for f in wanted if not (folder / f).is_file()]
        if not folder.is_dir() or missing:
            if spec:
                fix = f"run `timbre models fetch {name}` (fills {folder} from {spec.package})"
            else:
                fix = f"place the model files ({', '.join(wanted) or 'see docs/models.md'}) in {folder}"
            raise ModelMissing(
                f"model {name!r} is missing{': ' + ', '.join(missing) if missing else ''}; {fix}",
                model=name,
                path=str(folder),
            )
        return folder

    def joined(self, target: Path, parts: list[Path], sha256: str | None = None) -> Path:
        """A model that ships split across packages, joined once into `target` (atomically, and
        checked against `sha256` when given)."""
        if not target.is_file():
            blob = b"".join(part.read_bytes() for part in parts)
            if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
                raise ModelMissing(
                    f"the parts of {target.name} do not join to the pinned model (sha256 mismatch); "
                    "run `timbre models fetch --all --force`",
                    model=target.name,
                    path=str(target),
                )
            staging = target.with_suffix(".tmp")
            staging.write_bytes(blob)
            staging.replace(target)
        return target

    def manifest(self, name: str) -> dict | None:
        path = self.folder(name) / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def present(self) -> list[tuple[ModelSpec | None, str, dict | None]]:
        """Every registered model and every other folder with a manifest: (spec, name, manifest)."""
        rows: list[tuple[ModelSpec | None, str, dict | None]] = [
            (spec, name, self.manifest(name)) for name, spec in MODELS.items()
        ]
        if self.root.is_dir():
            for manifest in sorted(self.root.rglob(MANIFEST)):
                name = manifest.parent.relative_to(self.root).as_posix()
                if name not in MODELS:
                    rows.append((None, name, json.loads(manifest.read_text())))
        return rows
