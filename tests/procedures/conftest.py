"""A station for procedure tests: a simulated bench, its drivers, a journal file, a runner.

The runner and the bench share one manual clock, so waits (settling, holds, stability) take no
wall time while the physics still sees them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labctl.cli.bench import simulated_bench_config
from labctl.drivers.factory import Bench, open_bench
from labctl.procedures.clock import ManualClock
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.register import RegisterSnapshot
from labctl.procedures.results import RunEvent
from labctl.procedures.runner import Runner
from simulators.bench import SimulatedBench
from tests.procedures.chain import register_for


@dataclass
class Station:
    sim: SimulatedBench
    bench: Bench
    clock: ManualClock
    journal: SqliteJournal
    register: RegisterSnapshot
    runner: Runner
    events: list[RunEvent]
    stack: contextlib.ExitStack

    def close(self) -> None:
        """Close drivers (instruments made safe), stop the bench, close the journal."""
        self.stack.close()

    @property
    def truth(self) -> dict[str, Any]:
        return self.sim.truth()


@pytest.fixture
def station_factory(tmp_path: Path) -> Iterator[Callable[..., Station]]:
    made: list[Station] = []
    count = 0

    def make(seed: int = 7, *, register_options: dict[str, Any] | None = None,
             sample_interval: float = 10.0, journal: Path | None = None,
             **bench_options: Any) -> Station:
        nonlocal count
        count += 1
        clock = ManualClock()
        stack = contextlib.ExitStack()
        sim = stack.enter_context(SimulatedBench(seed=seed, clock=clock, **bench_options))
        bench = stack.enter_context(open_bench(simulated_bench_config(sim.resources,
                                                                      timeout=1.0)))
        jr = SqliteJournal(journal or tmp_path / f"journal-{count}.sqlite")
        stack.callback(jr.close)
        register = register_for(sim.truth(), seed, **(register_options or {}))
        events: list[RunEvent] = []
        runner = Runner(instruments=dict(bench), register=register, journal=jr, clock=clock,
                        sample_interval=sample_interval, background_sampling=False,
                        listeners=[events.append])
        made.append(Station(sim, bench, clock, jr, register, runner, events, stack))
        return made[-1]

    yield make
    for station in reversed(made):
        station.close()
