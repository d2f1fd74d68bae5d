"""A live platform driving a simulated bench, seeded as ``labctl demo`` seeds it: the tests of
remote runs, of the station seam, of conformity run to certificate and of their safety and
separation rules all start from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from labctl.api import create_app
from labctl.cli.bench import simulated_bench_config
from labctl.cli.demo import LAB, Api, seed_chain, seed_people, seed_registry
from labctl.platform.settings import Settings
from labctl.platform.stations.benches import BenchEntry
from labctl.procedures.clock import ManualClock
from simulators.bench import SimulatedBench
from tests.fixtures.db import LiveServer


@dataclass
class LiveBench:
    url: str
    api: Api
    app: Any
    sim: SimulatedBench
    settings: Settings
    tmp: Path


@contextmanager
def live_bench(tmp: Path, seed: int, *, instrument_timeout: float | None = None,
               **sim_options: Any) -> Iterator[LiveBench]:
    """The platform (SQLite file and keys in ``tmp``) with one bench, ``bench-1`` of the
    laboratory, on a simulated bench (``seed``, ``sim_options``) whose clock started six
    hours ago; people, registry and traceability chain seeded through the API."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(epoch=now - timedelta(hours=6))
    settings = Settings(database_url=f"sqlite:///{tmp / 'p.sqlite'}", keys_dir=tmp / "keys")
    config_options = {} if instrument_timeout is None else {"timeout": instrument_timeout}
    with SimulatedBench(seed=seed, clock=clock, **sim_options) as sim:
        benches = {"bench-1": BenchEntry(
            "bench-1", LAB, simulated_bench_config(sim.resources, **config_options),
            tmp / "bench-1.journal.sqlite", clock=clock, description="DC bench")}
        app = create_app(settings, benches)
        with LiveServer(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            api = Api(client)
            seed_people(api, settings.database_url, settings.keys_dir)
            truth = sim.truth()
            seed_registry(api, truth)
            seed_chain(api, truth, now, seed)
            yield LiveBench(url, api, app, sim, settings, tmp)
