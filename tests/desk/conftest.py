"""Fixtures of the service desk tests: a world of their own per backend (its own laboratory
and customers, so the numbers they assert are theirs: only
``test_complaints_and_evaluations`` evaluates), a traceability chain so the laboratory can
issue, its published CMC, and the :class:`~tests.desk._desk.Desk` helper."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.desk._desk import Desk
from tests.fixtures.db import PerBackend, World, build_world
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import ok, publish_cmc
from tests.security._accounts import person


@pytest.fixture(scope="session")
def desk_world(platform_backend: str, per_backend: PerBackend, platform_url: str,
               db_engine: sa.Engine) -> World:
    """The desk tests' own world, with a second customer organisation (``cust2``)."""
    return per_backend.get(platform_backend, "desk_world",
                           lambda: _desk_world(platform_url, db_engine))


def _desk_world(platform_url: str, db_engine: sa.Engine) -> World:
    world = build_world(platform_url, db_engine, "D" + secrets.token_hex(2).upper())
    with httpx.Client(base_url=platform_url, timeout=30) as c:
        code = world.orgs["cust"] + "2"
        ok(c.post("/api/v1/organisations", headers=world.su, json={
            "code": code, "name": "Other Customer GmbH", "level": "industry",
            "parent_code": world.orgs["prov"], "address": "9 Elsewhere"}), 201)
        world.orgs["cust2"] = code
        name, headers = person(c, world, "cust2", "customer", authorised=False)
        world.tokens[("cust2", "customer")] = headers["Authorization"].removeprefix("Bearer ")
        world.usernames[("cust2", "customer")] = name
    return world


@pytest.fixture(scope="session")
def desk_api(platform_backend: str, per_backend: PerBackend, platform_url: str
             ) -> httpx.Client:
    return per_backend.get(platform_backend, "desk_api", lambda: per_backend.stack.enter_context(
        httpx.Client(base_url=platform_url, timeout=60)))


@pytest.fixture(scope="session")
def chain(platform_backend: str, per_backend: PerBackend, desk_api: httpx.Client,
          desk_world: World) -> Chain:
    return per_backend.get(platform_backend, "desk_chain",
                           lambda: build_chain(desk_api, desk_world))


@pytest.fixture(scope="session")
def cmc(platform_backend: str, per_backend: PerBackend, desk_api: httpx.Client,
        desk_world: World, chain: Chain) -> dict[str, Any]:
    """The laboratory's published DC voltage CMC (0.1 … 100 V) orders are booked against."""
    return per_backend.get(platform_backend, "desk_cmc",
                           lambda: publish_cmc(desk_api, desk_world, "lab"))


@pytest.fixture
def desk(api: httpx.Client, desk_world: World, db_engine: sa.Engine) -> Desk:
    return Desk(api, desk_world, db_engine)

