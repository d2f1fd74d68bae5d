"""The procedure tests' station (simulated bench + drivers + journal + runner), reused."""

from tests.procedures.conftest import station_factory

__all__ = ["station_factory"]
