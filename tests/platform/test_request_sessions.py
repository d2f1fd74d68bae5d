"""A request holds one database connection: a request that writes looks its bearer caller up
in its own write session, not in a second session held open beside it until the answer is
sent. (Routes that verify a password, and the pages' signed-in person, read in a session of
their own on purpose: argon2 is slow, and on SQLite it must not hold the write lock.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from sqlalchemy import event

from labctl.api import ServerThread, create_app
from labctl.platform.routes.deps import get_principal, get_session, get_writer
from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, uid


def _calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            yield from _api_routes(inner.routes)


def test_no_writing_route_reads_its_caller_in_a_second_session(platform_settings: Any
                                                               ) -> None:
    routes = list(_api_routes(create_app(platform_settings).routes))
    both = sorted(f"{sorted(r.methods)[0]} {r.path}" for r in routes
                  if {get_session, get_principal} <= set(_calls(r.dependant)))
    writers = [r for r in routes if get_writer in set(_calls(r.dependant))]
    assert len(writers) > 50  # not vacuous: the API's writing routes were seen
    assert both == [], ("these routes write, yet read their caller in a read session of its "
                        f"own (use WriterDep): {both}")


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


@pytest.mark.timeout(60)
def test_a_write_and_a_read_request_each_check_out_one_connection(
        platform_settings: Any, world: World, chain: Chain) -> None:
    app = create_app(platform_settings)
    with ServerThread(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        engine: sa.Engine = app.state.engine
        checkouts: list[int] = []

        def count(*_: Any) -> None:
            checkouts.append(1)

        event.listen(engine, "checkout", count)
        try:
            number = draft(api, world, "lab", standards=[chain.working])["number"]
            del checkouts[:]
            ok(api.post(f"/api/v1/certificates/{number}/results",
                        json={"points": [point(), point(nominal="1")]},
                        headers={**world.station("lab"), "Idempotency-Key": uid("k")}), 201)
            posted = len(checkouts)
            del checkouts[:]
            got = ok(api.get(f"/api/v1/certificates/{number}",
                             headers=world.headers("lab", "checker")))
            read = len(checkouts)
            del checkouts[:]
            refused = api.post(f"/api/v1/certificates/{number}/results",
                               json={"points": [point()]},
                               headers={"Authorization": "Bearer nope",
                                        "Idempotency-Key": uid("k")})
        finally:
            event.remove(engine, "checkout", count)
    assert len(got["points"]) == 2
    assert refused.status_code == 401, refused.text
    assert (posted, read, len(checkouts)) == (1, 1, 1)
