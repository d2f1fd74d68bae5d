"""Shared physics of the bench: what is connected to what, and small numerical helpers.

The simulated instruments never talk to each other over the network; they share Python
objects. A DMM terminal sees a :class:`Stimulus` (a voltage source, a resistance, or nothing)
computed at the clock time of the reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

StimulusKind = Literal["V", "OHM", "OPEN"]


@dataclass(frozen=True)
class Stimulus:
    """What a measuring input sees: a DC voltage (V), a resistance (Ω), or an open circuit."""

    kind: StimulusKind
    value: float = 0.0

    @staticmethod
    def open() -> Stimulus:
        """An open circuit (nothing connected, or a source in standby)."""
        return Stimulus("OPEN", math.nan)


def draw_within(rng: np.random.Generator, limit: float, coverage: float = 3.0) -> float:
    """A true error drawn from N(0, (limit/coverage)²) and clipped to ±limit.

    Models a healthy instrument: its real errors are well inside the specification
    (``limit``) most of the time and never outside it.
    """
    if limit <= 0:
        return 0.0
    return float(np.clip(rng.normal(0.0, limit / coverage), -limit, limit))


def callendar_van_dusen(t: float, r0: float, a: float, b: float, c: float) -> float:
    """Resistance (Ω) of a platinum resistance thermometer at ``t`` °C (IEC 60751 form).

    R(t) = R0·(1 + A·t + B·t²) for t ≥ 0 °C, plus R0·C·(t − 100)·t³ below 0 °C.
    """
    r = r0 * (1.0 + a * t + b * t * t)
    if t < 0.0:
        r += r0 * c * (t - 100.0) * t**3
    return r


#: IEC 60751 nominal Callendar–Van Dusen coefficients of a Pt100.
IEC_60751 = {"r0": 100.0, "a": 3.9083e-3, "b": -5.775e-7, "c": -4.183e-12}


def seeded_rng(seed: int, role: str) -> np.random.Generator:
    """An independent generator per instrument role, derived from the bench seed.

    Built from (seed, role-name bytes) through ``SeedSequence`` so adding an instrument never
    changes the streams of the others.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, *role.encode("ascii")]))
