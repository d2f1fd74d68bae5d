"""Clocks for the simulated bench: physics is evaluated at ``clock.now()``.

Time is float seconds since the clock was created (or since ``start``). ``RealClock`` follows
the monotonic wall clock (for ``python -m simulators`` and demos); ``ManualClock`` only moves
when a test calls ``advance()``, so a test can let a dry block settle for an hour in a
microsecond and every reading stays reproducible.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the simulated time in seconds (monotonic, never decreasing)."""

    def now(self) -> float:
        """Current simulated time, s."""
        ...


class RealClock:
    """Monotonic wall-clock time in seconds since this clock was created."""

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        """Seconds elapsed since creation (monotonic, ≥ 0)."""
        return time.monotonic() - self._origin

    def __repr__(self) -> str:
        return f"RealClock(now={self.now():.3f})"


class ManualClock:
    """A clock that stands still until told to move: deterministic time for tests.

    ``start`` is the initial time in seconds (finite). Safe to advance from the test thread
    while the bench's server thread reads it.
    """

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(
                f"ManualClock start={start!r} is not allowed: expected a finite time in s"
            )
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current simulated time, s."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (finite, ≥ 0); returns the new time in s."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(
                f"ManualClock.advance seconds={seconds!r} is not allowed: "
                "expected a finite duration ≥ 0 s (time never runs backwards)"
            )
        with self._lock:
            self._now += float(seconds)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now():.3f})"
