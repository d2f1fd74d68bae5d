"""The laboratory room: temperature, humidity and pressure following a scriptable profile.

The profile is piecewise linear in time: a list of key points (time, conditions) joined by
straight lines, held constant before the first and after the last. Scripting calls append
segments after the end of the script (or after ``now`` if the script has already run out), so
a test reads like the story it tells::

    room.steady(temperature=23.0)
    room.drift(rate=0.5, duration=3600)          # +0.5 °C/h for an hour
    room.excursion(delta=4.0, ramp=600, hold=900) # out of the lab's limits and back

Every instrument on the bench evaluates the room at the same clock time, so the environment
sensor, the DMM's temperature coefficient and the dry block's losses all agree.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass

from simulators.clock import Clock

#: Reference temperature of the lab and of instrument specifications, °C.
REFERENCE_TEMPERATURE = 23.0


@dataclass(frozen=True)
class RoomConditions:
    """The room's state at one instant."""

    temperature: float
    """Air temperature, °C."""
    humidity: float
    """Relative humidity, % (0 … 100)."""
    pressure: float
    """Barometric pressure, Pa."""


def _check(name: str, value: float, low: float, high: float, unit: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"room {name}={value!r} is not allowed: expected {low} … {high} {unit}")
    return float(value)


def _check_duration(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"room {name}={value!r} is not allowed: expected a duration ≥ 0 s")
    return float(value)


class RoomProfile:
    """Scriptable room conditions over time (piecewise linear, thread-safe).

    Defaults are a well-kept calibration lab: 23.0 °C, 45 %RH, 101 325 Pa.
    """

    def __init__(
        self,
        clock: Clock,
        temperature: float = REFERENCE_TEMPERATURE,
        humidity: float = 45.0,
        pressure: float = 101_325.0,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._times: list[float] = [clock.now()]
        self._points: list[RoomConditions] = [
            RoomConditions(REFERENCE_TEMPERATURE, 45.0, 101_325.0)
        ]
        self.steady(temperature=temperature, humidity=humidity, pressure=pressure)

    # --- evaluation ---------------------------------------------------------------------

    def at(self, t: float) -> RoomConditions:
        """Room conditions at simulated time ``t`` (s)."""
        with self._lock:
            i = bisect.bisect_right(self._times, t)
            if i == 0:
                return self._points[0]
            if i == len(self._times):
                return self._points[-1]
            t0, t1 = self._times[i - 1], self._times[i]
            p0, p1 = self._points[i - 1], self._points[i]
            f = (t - t0) / (t1 - t0)
            return RoomConditions(
                temperature=p0.temperature + f * (p1.temperature - p0.temperature),
                humidity=p0.humidity + f * (p1.humidity - p0.humidity),
                pressure=p0.pressure + f * (p1.pressure - p0.pressure),
            )

    def now(self) -> RoomConditions:
        """Room conditions at the clock's current time."""
        return self.at(self._clock.now())

    @property
    def end_time(self) -> float:
        """Time (s) at which the scripted profile ends; conditions are held after it."""
        with self._lock:
            return self._times[-1]

    # --- scripting ----------------------------------------------------------------------

    def steady(
        self,
        temperature: float | None = None,
        humidity: float | None = None,
        pressure: float | None = None,
    ) -> RoomProfile:
        """Forget the script: hold the given conditions from now on.

        Omitted quantities keep their current value. Temperature −40 … 80 °C, humidity
        0 … 100 %, pressure 50 000 … 110 000 Pa.
        """
        now = self._clock.now()
        current = self.at(now)
        point = RoomConditions(
            temperature=_check("temperature",
                               current.temperature if temperature is None else temperature,
                               -40.0, 80.0, "°C"),
            humidity=_check("humidity", current.humidity if humidity is None else humidity,
                            0.0, 100.0, "%"),
            pressure=_check("pressure", current.pressure if pressure is None else pressure,
                            50_000.0, 110_000.0, "Pa"),
        )
        with self._lock:
            self._times = [now]
            self._points = [point]
        return self

    def ramp(
        self,
        duration: float,
        temperature: float | None = None,
        humidity: float | None = None,
        pressure: float | None = None,
    ) -> RoomProfile:
        """Append a straight-line change to the given conditions over ``duration`` s.

        The segment starts where the script ends, or now if the script has already ended.
        Omitted quantities keep the script's last value.
        """
        duration = _check_duration("duration", duration)
        now = self._clock.now()
        with self._lock:
            if self._times[-1] < now:
                self._times.append(now)
                self._points.append(self._points[-1])
            last = self._points[-1]
            start = self._times[-1]
        target = RoomConditions(
            temperature=_check(
                "temperature",
                last.temperature if temperature is None else temperature, -40.0, 80.0, "°C",
            ),
            humidity=_check("humidity", last.humidity if humidity is None else humidity,
                            0.0, 100.0, "%"),
            pressure=_check("pressure", last.pressure if pressure is None else pressure,
                            50_000.0, 110_000.0, "Pa"),
        )
        with self._lock:
            # A zero-length ramp is a step: nudge it so the interpolation stays defined.
            self._times.append(start + max(duration, 1e-9))
            self._points.append(target)
        return self

    def hold(self, duration: float) -> RoomProfile:
        """Append ``duration`` s of constant conditions (the script's last value)."""
        return self.ramp(duration)

    def drift(self, rate: float, duration: float, humidity_rate: float = 0.0) -> RoomProfile:
        """Append a linear drift of ``rate`` °C/h (``humidity_rate`` %/h) for ``duration`` s."""
        duration = _check_duration("duration", duration)
        last = self._last()
        return self.ramp(
            duration,
            temperature=last.temperature + rate * duration / 3600.0,
            humidity=last.humidity + humidity_rate * duration / 3600.0,
        )

    def excursion(
        self, delta: float, ramp: float = 600.0, hold: float = 600.0, humidity_delta: float = 0.0
    ) -> RoomProfile:
        """Append an excursion: ramp by ``delta`` °C (and ``humidity_delta`` %) over ``ramp`` s,
        hold ``hold`` s, ramp back over ``ramp`` s (e.g. an air-conditioning failure)."""
        last = self._last()
        self.ramp(ramp, temperature=last.temperature + delta,
                  humidity=last.humidity + humidity_delta)
        self.hold(hold)
        return self.ramp(ramp, temperature=last.temperature, humidity=last.humidity)

    def _last(self) -> RoomConditions:
        with self._lock:
            return self._points[-1]

    def __repr__(self) -> str:
        c = self.now()
        return (f"RoomProfile(now: {c.temperature:.3f} °C, {c.humidity:.1f} %RH, "
                f"{c.pressure:.0f} Pa; {len(self._times)} key points)")
