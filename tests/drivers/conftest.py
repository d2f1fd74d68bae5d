"""Drivers connected to the simulated bench over loopback (no mocks: real servers).

``connect(role, ...)`` opens the driver for a bench role through the factory, exactly as a lab
configuration would; every driver opened is closed after the test with the bench's faults
cleared first, so a test that leaves a fault on cannot hang the teardown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from labctl.drivers.base import InstrumentBase
from labctl.drivers.factory import InstrumentConfig, open_instrument
from labctl.drivers.retry import RetryPolicy

MODELS = {
    "calibrator": "5522A",
    "dmm": "34465A",
    "thermometer": "1594A",
    "environment": "THP-1",
    "temperature_source": "DB-450",
}
#: Short timeouts: a hung instrument must fail a test in well under a second.
FAST = RetryPolicy(attempts=3, deadline=3.0, backoff=0.01)


@pytest.fixture
def connect(bench: Any) -> Iterator[Callable[..., Any]]:
    opened: list[InstrumentBase] = []

    def open_role(role: str, *, timeout: float = 1.0, retry: RetryPolicy = FAST,
                  check_identity: bool = True) -> Any:
        config = InstrumentConfig(model=MODELS[role], resource=bench.resources[role],
                                  timeout=timeout, retry=retry)
        driver = open_instrument(config, check_identity=check_identity)
        opened.append(driver)
        return driver

    yield open_role
    for inst in bench.instruments.values():
        inst.faults.clear()
    for driver in reversed(opened):
        with contextlib.suppress(Exception):
            driver.close()


def commands(bench: Any, role: str) -> list[str]:
    """A copy of the commands the simulated instrument has received so far."""
    return list(bench.instruments[role].commands)


class OnRetry(logging.Handler):
    """Runs ``action`` when the driver announces a retry: a test can then clear a fault
    between the failed attempt and the next one, deterministically (no timers)."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.action = action
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.retries += 1
            self.action()


@pytest.fixture
def on_retry() -> Iterator[Callable[[Callable[[], None]], OnRetry]]:
    handlers: list[OnRetry] = []
    logger = logging.getLogger("labctl.drivers.retry")

    def install(action: Callable[[], None]) -> OnRetry:
        handler = OnRetry(action)
        logger.addHandler(handler)
        handlers.append(handler)
        return handler

    yield install
    for handler in handlers:
        logger.removeHandler(handler)
