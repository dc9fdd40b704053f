"""Loaded voices kept per worker: loading an artifact (torch.load, rebuilding the conversions) costs
more than a short sentence's synthesis, so a worker keeps the last few voices it spoke with."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class VoiceCache:
    """A bounded LRU of loaded voices. Entries are named by (artifact key, version): a rebuilt voice
    keeps its key but not its version, so a worker that did not see the rebuild still loads it anew."""

    def __init__(self, load: Callable[[bytes], Any], size: int = 32) -> None:
        self._load = load
        self.size = size
        self._voices: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: str, read: Callable[[], bytes]) -> Any:
        """The loaded voice of `key` at `version`; `read` fetches the artifact when it is not kept."""
        name = (key, version)
        with self._lock:
            if name in self._voices:
                self._voices.move_to_end(name)
                return self._voices[name]
        voice = self._load(read())  # outside the lock: other voices keep being served meanwhile
        with self._lock:
            for stale in [n for n in self._voices if n[0] == key and n != name]:
                del self._voices[stale]
            self._voices[name] = voice
            self._voices.move_to_end(name)
            while len(self._voices) > self.size:
                self._voices.popitem(last=False)
        return voice

    def forget(self, key: str) -> None:
        """Drops every version of `key` (the voice was rebuilt, revoked or deleted)."""
        with self._lock:
            for name in [n for n in self._voices if n[0] == key]:
                del self._voices[name]

    def __len__(self) -> int:
        return len(self._voices)
