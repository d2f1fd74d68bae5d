"""The schemathesis fuzz of every operation (``test_schemathesis.py``) on PostgreSQL, in a
file of its own so that it runs beside the SQLite one on the other worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.db import World
from tests.platform.test_schemathesis import fuzz_every_operation, fuzzed_platform

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def fuzzed_postgresql(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                      request: pytest.FixtureRequest) -> Iterator[tuple[str, World]]:
    with fuzzed_platform("postgresql", keys_dir, tmp_path_factory.mktemp("fuzz"),
                         request) as fuzzed:
        yield fuzzed


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_every_operation_passes_all_checks_on_postgresql(
        fuzzed_postgresql: tuple[str, World]) -> None:
    fuzz_every_operation(*fuzzed_postgresql)
