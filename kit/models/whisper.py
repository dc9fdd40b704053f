"""Whisper base (CTranslate2, int8) from the model store: its two halves joined once beside them."""

from __future__ import annotations

import functools
import shutil

from kit.models.store import ModelStore

SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def load_whisper(root: str | None = None, threads: int = 1):
    """A faster_whisper.WhisperModel on the CPU, one per process and store (the engine names the
    store, the benchmark takes the default: both get the same model)."""
    return _load(str(ModelStore(root).root), threads)


@functools.lru_cache(maxsize=2)
def _load(root: str, threads: int):
    from faster_whisper import WhisperModel

    store = ModelStore(root)
    first, second = store.require("whisper_base/part1"), store.require("whisper_base/part2")
    folder = first.parent  # whisper_base/: the joined model and the files it is read with
    for name in SIDE_FILES:
        if not (folder / name).is_file():
            shutil.copyfile(first / name, folder / name)
    store.joined(folder / "model.bin", [first / "model.bin.part1", second / "model.bin.part2"])
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
