"""Drift of a simulated standard: a steady rate and a sudden step, switchable at run time.

A standard between calibrations moves: slowly (a Zener reference ages, a PRT oxidises) and
sometimes suddenly (a knock, an overload). :class:`Drift` adds both to one true error of a
device model, on the bench's clock, so an intermediate check has something to find::

    drift = bench.instruments["calibrator"].drift
    drift.set(rate=2e-11, now=bench.clock.now())       # 2e-11 per s of simulated time
    drift.set(step=5e-6, step_at=bench.clock.now() + 3600)

The value at time ``t`` (s) is ``rate·(t − since) + (step if t ≥ step_at)``, zero before
``since``. Its unit is the unit of the error it adds to, which each device states in
:attr:`Drift.unit` (the 5522A: relative, on the gain of every DC voltage range, so ``rate`` is
per second and ``step`` a fraction such as 5e-6 = 5 ppm; the DB-450: °C on its controller's
sensor error; the 1594A: °C on its probe's error). It is deterministic: no noise is drawn.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"drift.{name}={value!r} is not allowed: expected a finite number")
    return float(value)


@dataclass
class Drift:
    """A rate and a step added to one true error of a device (all zero: no drift).

    - ``rate``: change per second of simulated time, in :attr:`unit` per s.
    - ``since``: simulated time (s) the rate counts from (``set`` puts the clock's now).
    - ``step``: a sudden shift, in :attr:`unit`, applied from ``step_at`` on.
    - ``step_at``: simulated time (s) of the step; ``None``: no step.
    - ``unit``: ``"1"`` (relative) or the error's unit (``"°C"``); fixed by the device.
    """

    unit: str = "1"
    rate: float = 0.0
    since: float = 0.0
    step: float = 0.0
    step_at: float | None = None
    carried: float = field(default=0.0, init=False)
    """Drift accumulated before the present ramp and step (kept when either changes)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def set(self, *, now: float, rate: float | None = None, step: float | None = None,
            step_at: float | None = None) -> None:
        """Change the drift from ``now`` (s) on without a jump in its value.

        A new ``rate`` continues from the value already accumulated (the slope changes, the
        error does not jump); ``step`` with ``step_at`` (default ``now``) schedules a step
        (replacing any earlier one, whose shift, if already applied, is kept).
        """
        now = _finite("now", now)
        new_rate = None if rate is None else _finite("rate", rate)
        new_step = None if step is None else _finite("step", step)
        at = now if step_at is None else _finite("step_at", step_at)
        with self._lock:
            accumulated = self.rate * max(0.0, now - self.since)
            if new_rate is not None:
                # keep the ramp so far: fold it into a ramp restarting at now
                self.carried += accumulated
                self.rate, self.since = new_rate, now
            if new_step is not None:
                if self.step_at is not None and self.step_at <= now:
                    self.carried += self.step
                self.step, self.step_at = new_step, at

    def value(self, t: float) -> float:
        """The drift at simulated time ``t`` (s), in :attr:`unit`."""
        with self._lock:
            v = self.carried + self.rate * max(0.0, t - self.since)
            if self.step_at is not None and t >= self.step_at:
                v += self.step
            return v

    def clear(self) -> None:
        """No drift any more (the device returns to its calibrated errors)."""
        with self._lock:
            self.rate = self.since = self.step = 0.0
            self.step_at = None
            self.carried = 0.0

    def as_dict(self, t: float) -> dict[str, Any]:
        """The settings and the value at ``t`` (for ``truth()``)."""
        return {"unit": self.unit, "rate": self.rate, "since": self.since, "step": self.step,
                "step_at": self.step_at, "carried": self.carried, "value": self.value(t)}
