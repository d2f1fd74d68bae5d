"""Time for the runner and the procedures: float seconds on a monotonic scale, plus UTC.

The runner never calls ``time`` directly. Production uses :class:`SystemClock`; tests use
:class:`ManualClock` (``sleep`` advances time instantly, so a ten-minute settle takes no wall
time); the demo uses :class:`ScaledClock` (simulated time runs faster than the wall clock).
The same clock object can be handed to the simulated bench, whose physics then follows the
runner's time exactly.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of time: ``now()`` in seconds (monotonic), ``sleep()``, and ``utcnow()``."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def utcnow(self) -> datetime: ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def utcnow(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Time that moves only when told: ``sleep(dt)`` and ``advance(dt)`` add ``dt`` at once.

    Thread-safe. ``utcnow()`` is ``epoch + now()`` so journal timestamps stay meaningful.
    """

    def __init__(self, start: float = 0.0, epoch: datetime | None = None) -> None:
        self._now = float(start)
        self._epoch = epoch or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards ({seconds} s)")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def utcnow(self) -> datetime:
        return self._epoch + timedelta(seconds=self.now())


class ScaledClock:
    """Real time sped up ``factor`` times: a simulated bench settles in seconds, not minutes.

    Used by ``labctl demo``; never with real instruments.
    """

    def __init__(self, factor: float, start: float = 0.0) -> None:
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        self.factor = float(factor)
        self._start = float(start)
        self._t0 = time.monotonic()
        self._utc0 = datetime.now(UTC)

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.factor

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.factor)

    def utcnow(self) -> datetime:
        return self._utc0 + timedelta(seconds=self.now() - self._start)
