"""Environmental monitoring of the calibration room for the whole run.

The monitor samples the room sensor(s) at a fixed interval, keeps every sample, and judges
each against the procedure's limits: a value outside ``[low, high]`` or a rate of change
faster than ``max_rate`` (per hour, as laboratories state it: "23 ± 1 °C, at most 0.5 °C/h").
Conditions are *in limits* only after they have been continuously in limits for the settle
time; the runner holds work while they are not, and invalidates points measured while they
were not.

Sampling is pull-based (``poll()``), so a manual clock in tests samples exactly when time moves;
with real time a background thread polls too, so sampling continues while the runner waits on
an instrument.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

from labctl.errors import (
    InstrumentFault,
    ValidationError,
)
from labctl.procedures.clock import Clock
from labctl.procedures.results import ConditionStats

Quantity = Literal["temperature", "humidity", "pressure"]
QUANTITIES: tuple[Quantity, ...] = ("temperature", "humidity", "pressure")
UNITS: dict[str, str] = {"temperature": "°C", "humidity": "%", "pressure": "Pa"}


class RoomReading(Protocol):
    """One reading of the room: temperature °C, relative humidity %, pressure Pa."""

    temperature: float
    humidity: float
    pressure: float


class RoomSensor(Protocol):
    """What the monitor needs of a room sensor (the driver role ``EnvironmentSensor`` is
    one): its resource name, for the record, and a reading."""

    resource: str

    def read(self) -> RoomReading: ...


@dataclass(frozen=True)
class QuantityLimit:
    """Limits on one room quantity: value in ``[low, high]``, |rate| <= ``max_rate`` per hour.

    Units: temperature °C, humidity % (relative), pressure Pa. ``None`` means no limit.
    """

    quantity: Quantity
    low: float | None = None
    high: float | None = None
    max_rate: float | None = None  # per hour

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITIES:
            raise ValidationError("quantity", self.quantity, "one of " + ", ".join(QUANTITIES))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValidationError(f"{self.quantity}.low", self.low, f"<= high ({self.high})")
        if self.max_rate is not None and not self.max_rate > 0:
            raise ValidationError(f"{self.quantity}.max_rate", self.max_rate, "> 0 per hour")


@dataclass(frozen=True)
class EnvironmentLimits:
    """A procedure's environmental requirements.

    ``settle_time`` (s): how long conditions must have been in limits before work starts or
    resumes. ``rate_window`` (s): the span over which a rate of change is estimated.
    ``hold_timeout`` (s): how long a run may stay on hold before it is aborted.
    """

    limits: tuple[QuantityLimit, ...]
    settle_time: float = 300.0
    rate_window: float = 600.0
    hold_timeout: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("settle_time", "rate_window", "hold_timeout"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValidationError(name, value, "a finite number of seconds >= 0")


@dataclass(frozen=True)
class EnvironmentSample:
    """One reading of the room: ``time`` on the run clock (s), ``utc`` wall time."""

    time: float
    utc: datetime
    temperature: float
    humidity: float
    pressure: float
    sensor: str = ""


@dataclass(frozen=True)
class Breach:
    """A limit that was crossed: ``kind`` is "low", "high", "rate" or "sensor"."""

    time: float
    quantity: str
    kind: str
    value: float
    limit: float

    def describe(self) -> str:
        if self.kind == "sensor":
            return f"environment sensor failed at t={self.time:.1f} s"
        unit = UNITS.get(self.quantity, "")
        if self.kind == "rate":
            return (f"{self.quantity} changing at {self.value:.3g} {unit}/h, "
                    f"limit {self.limit:g} {unit}/h")
        side = "below" if self.kind == "low" else "above"
        return f"{self.quantity} {self.value:.4g} {unit} {side} limit {self.limit:g} {unit}"


@dataclass(frozen=True)
class ConditionsSummary:
    """Conditions over a span (a point, or the whole run), for results and certificates."""

    start: float
    end: float
    quantities: tuple[ConditionStats, ...]

    def get(self, quantity: str) -> ConditionStats | None:
        return next((q for q in self.quantities if q.quantity == quantity), None)


class EnvironmentMonitor:
    """Samples the room and judges it against limits (see the module docstring).

    ``on_sample`` is called with each new sample (e.g. to store it in the journal) and
    ``on_breach`` with each newly detected breach. Both are called from the sampling thread.
    """

    def __init__(
        self,
        sensor: RoomSensor,
        limits: EnvironmentLimits,
        clock: Clock,
        *,
        interval: float = 1.0,
        on_sample: Callable[[EnvironmentSample], None] | None = None,
        on_breach: Callable[[Breach], None] | None = None,
    ) -> None:
        if not interval > 0:
            raise ValidationError("interval", interval, "> 0 s")
        self.sensor = sensor
        self.limits = limits
        self.clock = clock
        self.interval = float(interval)
        self._on_sample = on_sample
        self._on_breach = on_breach
        self._lock = threading.RLock()
        self._samples: list[EnvironmentSample] = []
        self._times: list[float] = []  # sample times, for bisecting windows
        self._breaches: list[Breach] = []
        self._last_bad: float | None = None  # clock time of the latest out-of-limit sample
        self._first_time: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- sampling -------------------------------------------------------------------------

    def poll(self) -> EnvironmentSample | None:
        """Take a sample if one is due (interval elapsed since the last one)."""
        with self._lock:
            now = self.clock.now()
            if self._samples and now - self._samples[-1].time < self.interval:
                return None
            return self.sample_now()

    def sample_now(self) -> EnvironmentSample | None:
        """Take a sample now, judge it, and return it (``None`` if the sensor failed)."""
        with self._lock:
            now = self.clock.now()
            if self._first_time is None:
                self._first_time = now
            try:
                reading = self.sensor.read()
            except (InstrumentFault, ValidationError):
                # An unreadable room is an unknown room: treated as out of limits.
                self._record_breach(Breach(now, "sensor", "sensor", math.nan, math.nan))
                return None
            sample = EnvironmentSample(
                time=now, utc=self.clock.utcnow(), temperature=float(reading.temperature),
                humidity=float(reading.humidity), pressure=float(reading.pressure),
                sensor=getattr(self.sensor, "resource", ""),
            )
            self._samples.append(sample)
            self._times.append(now)
            for breach in self._judge(sample):
                self._record_breach(breach)
        if self._on_sample is not None:
            self._on_sample(sample)
        return sample

    def _judge(self, sample: EnvironmentSample) -> list[Breach]:
        found: list[Breach] = []
        for lim in self.limits.limits:
            value = getattr(sample, lim.quantity)
            if lim.low is not None and value < lim.low:
                found.append(Breach(sample.time, lim.quantity, "low", value, lim.low))
            if lim.high is not None and value > lim.high:
                found.append(Breach(sample.time, lim.quantity, "high", value, lim.high))
            if lim.max_rate is not None:
                rate = self.rate(lim.quantity)
                if rate is not None and abs(rate) > lim.max_rate:
                    found.append(Breach(sample.time, lim.quantity, "rate", rate, lim.max_rate))
        return found

    def _record_breach(self, breach: Breach) -> None:
        self._last_bad = breach.time
        self._breaches.append(breach)
        if self._on_breach is not None:
            self._on_breach(breach)

    def rate(self, quantity: str) -> float | None:
        """Rate of change per hour over the last ``rate_window`` (least-squares slope).

        ``None`` until the window holds at least three samples spanning half the window, so
        that sensor noise over a few seconds is not mistaken for a drift.
        """
        with self._lock:
            if not self._samples:
                return None
            t_end = self._times[-1]
            first = bisect.bisect_left(self._times, t_end - self.limits.rate_window)
            window = self._samples[first:]
        if len(window) < 3 or window[-1].time - window[0].time < self.limits.rate_window / 2:
            return None
        t = np.fromiter((s.time for s in window), float, len(window))
        y = np.fromiter((getattr(s, quantity) for s in window), float, len(window))
        t -= t.mean()
        slope = float(t @ (y - y.mean()) / (t @ t))  # least-squares slope
        return slope * 3600.0

    # -- judgement ------------------------------------------------------------------------

    def in_limits_for(self) -> float:
        """Seconds the conditions have been continuously in limits (0 when out of limits)."""
        with self._lock:
            if not self._samples:
                return 0.0
            now = self._samples[-1].time
            since = self._last_bad if self._last_bad is not None else self._first_time
            assert since is not None
            if self._last_bad is not None and self._last_bad >= now:
                return 0.0
            return now - since

    def settled(self) -> bool:
        """In limits for at least the settle time."""
        return self.in_limits_for() >= self.limits.settle_time

    def breaches_between(self, start: float, end: float) -> list[Breach]:
        """Breaches detected in ``[start, end]`` (clock seconds)."""
        with self._lock:
            return [b for b in self._breaches if start <= b.time <= end]

    @property
    def breaches(self) -> list[Breach]:
        with self._lock:
            return list(self._breaches)

    def latest(self) -> EnvironmentSample | None:
        """The most recent sample, if any."""
        with self._lock:
            return self._samples[-1] if self._samples else None

    @property
    def samples(self) -> list[EnvironmentSample]:
        with self._lock:
            return list(self._samples)

    def summary(self, start: float | None = None, end: float | None = None) -> ConditionsSummary:
        """Min / max / mean of each quantity over ``[start, end]`` (all samples by default)."""
        with self._lock:
            lo = 0 if start is None else bisect.bisect_left(self._times, start)
            hi = len(self._times) if end is None else bisect.bisect_right(self._times, end)
            chosen = self._samples[lo:hi]
        return summarise(chosen, start, end)

    # -- background thread ------------------------------------------------------------------

    def start(self, poll_every: float | None = None) -> None:
        """Poll in a background thread every ``poll_every`` real seconds (default: interval)."""
        if self._thread is not None:
            return
        period = self.interval if poll_every is None else poll_every
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(period):
                self.poll()

        self._thread = threading.Thread(target=loop, name="labctl-environment", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None


def summarise(samples: Sequence[EnvironmentSample] | Iterable[EnvironmentSample],
              start: float | None = None, end: float | None = None) -> ConditionsSummary:
    """Min / max / mean per quantity of the given samples."""
    chosen = list(samples)
    quantities = []
    for q in QUANTITIES:
        values = np.array([getattr(s, q) for s in chosen], dtype=float)
        if values.size:
            quantities.append(ConditionStats(q, UNITS[q], float(values.min()),
                                              float(values.max()), float(values.mean()),
                                              int(values.size)))
    t0 = start if start is not None else (chosen[0].time if chosen else math.nan)
    t1 = end if end is not None else (chosen[-1].time if chosen else math.nan)
    return ConditionsSummary(t0, t1, tuple(quantities))
