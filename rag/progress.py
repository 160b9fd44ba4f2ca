"""Rate and time-left for a long stage, as words for a progress receiver.

In: how many items of a known total are done, and a clock. Out: a message such as
``embedding passages: 3.2 passages/s, ETA 4 min 10 s``. The ingest passes it to its ``Progress`` callback
(done, total, message), so the CLI's bar and the chat's library show the same figures.
"""

from __future__ import annotations

import time
from typing import Callable


def format_duration(seconds: float) -> str:
    """``42 s``, ``4 min 10 s``, ``2 h 05 min``: whole units, no false precision."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class RateMeter:
    """Items per second since ``start`` and the time left at that rate. ``clock`` is injectable for tests."""

    def __init__(self, total: int, unit: str = "passages", clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = total
        self.unit = unit
        self.clock = clock
        self.started = clock()

    def message(self, label: str, done: int) -> str:
        """``label: R unit/s, ETA T`` once something is done; ``label: starting`` before."""
        elapsed = self.clock() - self.started
        if done <= 0 or elapsed <= 0:
            return f"{label}: starting"
        rate = done / elapsed
        left = max(0, self.total - done) / rate
        return f"{label}: {rate:.1f} {self.unit}/s, ETA {format_duration(left)}"
