"""A live platform seeded as ``labctl demo`` seeds it (people, registry, the traceability
chain through the API), with a simulated bench whose clock started ``days`` ago, and alice
authorised for the two check procedures: the scene of the quality-control tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from labctl.api import create_app
from labctl.cli.demo import Api, seed_chain, seed_people, seed_registry
from labctl.platform.audit import use_key
from labctl.platform.db import make_engine
from labctl.platform.settings import Settings
from labctl.procedures.clock import ManualClock
from simulators.bench import SimulatedBench
from tests.fixtures.db import LiveServer

DAY = 86_400.0


@dataclass
class Scene:
    url: str
    api: Api
    sim: SimulatedBench
    clock: ManualClock
    settings: Settings
    engine: Engine
    tmp: Path
    now: datetime


@contextmanager
def scene(tmp: Path, seed: int, *, days: float = 20.0, database_url: str | None = None,
          **sim_options: Any) -> Iterator[Scene]:
    """The platform (``database_url``, default a SQLite file in ``tmp``; keys in ``tmp``),
    the bench on a manual clock that starts ``days`` ago (the calibrator was calibrated 30
    days ago by the seeded chain)."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(epoch=now - timedelta(days=days))
    settings = Settings(database_url=database_url or f"sqlite:///{tmp / 'p.sqlite'}",
                        keys_dir=tmp / "keys")
    with SimulatedBench(seed=seed, clock=clock, **sim_options) as sim:
        app = create_app(settings)
        with LiveServer(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            api = Api(client)
            seed_people(api, settings.database_url, settings.keys_dir)
            truth = sim.truth()
            seed_registry(api, truth)
            seed_chain(api, truth, now, seed)
            engine = make_engine(settings.database_url)
            use_key(engine, settings.keys_dir)
            try:
                yield Scene(url, api, sim, clock, settings, engine, tmp, now)
            finally:
                engine.dispose()
