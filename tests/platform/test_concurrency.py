"""Concurrent, retried result posts from several stations: nothing lost, nothing duplicated.

Threads post over HTTP to the live server; processes write through the service layer on the
same database with their own engines (a second server process in all but the HTTP layer).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, uid


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


def _count(api: httpx.Client, world: World, number: str) -> list[dict]:
    return ok(api.get(f"/api/v1/certificates/{number}",  # type: ignore[no-any-return]
                      headers=world.headers("lab", "checker")))["points"]


@pytest.mark.timeout(120)
def test_threads_retrying_the_same_keys_create_each_posting_once(
        api: httpx.Client, world: World, chain: Chain, platform_url: str) -> None:
    number = draft(api, world, "lab", standards=[chain.working])["number"]
    keys = [uid("k") for _ in range(24)]
    # every key is sent by three threads at once (a station retrying after a timeout while
    # its first attempt is still in flight), each with the same two points
    barrier = threading.Barrier(6)

    def post(key: str, i: int) -> int:
        with httpx.Client(base_url=platform_url, timeout=60) as c:
            if i < 6:
                barrier.wait(timeout=30)
            r = c.post(f"/api/v1/certificates/{number}/results",
                       json={"points": [point(nominal=str(1 + keys.index(key) % 9)),
                                        point(nominal="10")]},
                       headers={**world.station("lab"), "Idempotency-Key": key})
            return r.status_code

    jobs = [(k, n) for n, k in enumerate(k for k in keys for _ in range(3))]
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda kn: post(*kn), jobs))
    assert set(codes) <= {200, 201}
    assert codes.count(201) == len(keys)  # exactly one creation per key
    points = _count(api, world, number)
    assert len(points) == 2 * len(keys)


def _process_worker(database_url: str, token: str, number: str, keys: list[str],
                    out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from sqlmodel import Session

    from labctl.platform.accounts.auth import principal_for_token
    from labctl.platform.certificates import post_results
    from labctl.platform.db import make_engine
    from labctl.platform.models.certificates import PointIn, ResultsIn

    engine = make_engine(database_url)
    created = 0
    try:
        for key in keys:
            with Session(engine, expire_on_commit=False) as s:
                principal = principal_for_token(s, token)
            with Session(engine, expire_on_commit=False) as s:
                body = ResultsIn(points=[PointIn(**point())])
                _, replayed = post_results(s, principal=principal, number=number,
                                           idempotency_key=key, data=body)
                created += not replayed
        out.put(created)
    except BaseException as exc:  # report it to the parent instead of dying silently
        out.put(repr(exc))
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
def test_processes_posting_overlapping_keys_lose_and_duplicate_nothing(
        api: httpx.Client, world: World, chain: Chain, database_url: str) -> None:
    number = draft(api, world, "lab", standards=[chain.working])["number"]
    keys = [uid("p") for _ in range(12)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    # three processes each post all keys (in different orders): 36 attempts, 12 postings
    orders = [keys, list(reversed(keys)), keys[6:] + keys[:6]]
    procs = [ctx.Process(target=_process_worker,
                         args=(database_url, world.station_tokens["lab"], number, o, out))
             for o in orders]
    for p in procs:
        p.start()
    results = [out.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(keys)
    assert len(_count(api, world, number)) == len(keys)


@pytest.mark.timeout(60)
def test_concurrent_drafts_get_distinct_numbers(world: World, chain: Chain,
                                                platform_url: str) -> None:
    def create(_: int) -> str:
        with httpx.Client(base_url=platform_url, timeout=60) as c:
            return draft(c, world, "lab", standards=[chain.working])["number"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(create, range(12)))
    assert len(set(numbers)) == 12


@pytest.mark.timeout(60)
def test_numbers_go_on_past_999999_without_reuse(world: World, chain: Chain, api: httpx.Client,
                                                 db_engine: sa.Engine) -> None:
    # The next number is read off the number index (the highest of each width, one row),
    # not by scanning the laboratory's year: 999999 is followed by 1000000, 1000001.
    number = draft(api, world, "lab", standards=[chain.working])["number"]
    prefix = number.rsplit("-", 1)[0] + "-"
    planted = f"{prefix}999999"
    rename = sa.text("UPDATE certificate SET number = :new WHERE number = :old")
    with db_engine.begin() as conn:  # behind the audit trail's back: put back below
        conn.execute(rename, {"new": planted, "old": number})
    try:
        after = [draft(api, world, "lab", standards=[chain.working])["number"]
                 for _ in range(2)]
        assert after == [f"{prefix}1000000", f"{prefix}1000001"]
    finally:
        with db_engine.begin() as conn:
            conn.execute(rename, {"new": number, "old": planted})
