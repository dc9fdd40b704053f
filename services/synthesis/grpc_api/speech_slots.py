"""How many speech requests (unary and streamed) synthesize at once, and how long one may wait for its turn.

Requests used to wait for their turn in the gRPC server's thread pool, before the handler (and the
token check) ran: under 50 concurrent streams some waited past their 5-minute token and were refused
401 after the wait. Now the pool is larger than the number of slots, so a request is authenticated as
soon as it arrives, then waits here, after authentication and before any quota is reserved, for at
most `wait_seconds`; a request not served by then is refused UNAVAILABLE with a Retry-After hint (the
gateway's 503), having cost nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kit.errors import Unavailable


class SpeechSlots:
    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1:
            raise ValueError("at least one speech slot is needed")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def held(self) -> Iterator[None]:
        """One slot for the duration of the block, or Unavailable after `wait_seconds` without one."""
        if not self._free.acquire(timeout=self.wait_seconds):
            raise Unavailable(
                f"all {self.slots} speech slots stayed busy for {self.wait_seconds:g} s: try again later",
                reason="SPEECH_BUSY",
                retry_after_seconds=max(1, math.ceil(self.wait_seconds / 4)),
            )
        try:
            yield
        finally:
            self._free.release()
