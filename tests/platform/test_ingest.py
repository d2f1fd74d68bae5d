"""Result ingest: a whole posting reported at once equals point-by-point reporting, and
stations posting to several drafts at once lose nothing, duplicate nothing and leave an
intact audit chain."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from labctl.platform import audit
from labctl.platform.models import ResultPoint
from labctl.platform.results.reporting import report_point, report_points
from labctl.uncertainty.conformity import DecisionRule, Outcome
from tests.fixtures.db import World
from tests.platform.chain import Chain, build_chain
from tests.platform.helpers import draft, ok, point, uid


def _random_point(rng: random.Random, seq: int) -> ResultPoint:
    nominal = Decimal(rng.choice(["0.1", "1", "10", "100", "-10", "1000"]))
    U = nominal.copy_abs() * Decimal(rng.choice(["0.00002", "0.0001", "0.000013"]))
    error = U * Decimal(rng.uniform(-3, 3)).quantize(Decimal("0.001"))
    tol = U * Decimal(rng.choice(["0.5", "1", "2", "5"]))
    limits = rng.random() < 0.8
    return ResultPoint(
        certificate_id=1, posting_id=1, seq=seq, table_title="t", quantity="DC voltage",
        unit="V", nominal=nominal, reference_value=nominal + U * Decimal("0.3"),
        measured_value=nominal + error, expanded_uncertainty=U,
        coverage_factor=Decimal(rng.choice(["2", "2.0", "2.28", "3"])),
        coverage_probability=Decimal("0.95"),
        lower_limit=-tol if limits else None, upper_limit=tol if limits else None)


@pytest.mark.parametrize("rule", [None, *DecisionRule])
def test_a_posting_reported_at_once_equals_point_by_point(rule: DecisionRule | None) -> None:
    rng = random.Random(str(rule))
    outcomes: set[str | None] = set()
    for n in (1, 5, 23, 40):
        pts = [_random_point(rng, i) for i in range(n)]
        whole = report_points(pts, rule)
        assert whole == [report_point(p, rule) for p in pts]
        outcomes |= {r.conformity for r in whole}
    # not vacuous: with a rule, points were judged both ways (and those without limits not)
    assert outcomes == {None} if rule is None else len(outcomes - {None}) >= 2


@pytest.fixture(scope="module")
def chain(platform_url: str, world: World) -> Chain:
    with httpx.Client(base_url=platform_url, timeout=60) as api:
        return build_chain(api, world)


@pytest.mark.timeout(120)
def test_stations_posting_to_several_drafts_at_once(
        api: httpx.Client, world: World, chain: Chain, platform_url: str,
        db_engine: sa.Engine) -> None:
    numbers = [draft(api, world, "lab", standards=[chain.working])["number"] for _ in range(3)]
    # 4 stations' worth of threads, each posting 3 points per key to every draft in turn;
    # every fourth post is retried at once with the same key (a timeout retry)
    jobs = [(numbers[i % 3], uid("s"), i) for i in range(36)]
    barrier = threading.Barrier(4)
    answers: dict[str, dict] = {}  # type: ignore[type-arg]

    def post(job: tuple[str, str, int]) -> list[int]:
        number, key, i = job
        body = {"points": [point(nominal=str(1 + i % 7)), point(nominal="10", error="0.00009"),
                           point(nominal="100", U="0.003", error="-0.0002")]}
        codes = []
        with httpx.Client(base_url=platform_url, timeout=60) as c:
            if i < 4:
                barrier.wait(timeout=30)
            for _ in range(2 if i % 4 == 0 else 1):
                r = c.post(f"/api/v1/certificates/{number}/results", json=body,
                           headers={**world.station("lab"), "Idempotency-Key": key})
                codes.append(r.status_code)
                assert r.status_code in (200, 201), r.text
                if key in answers:  # a replay answers exactly as the first post did
                    assert r.json() == answers[key]
                answers[key] = r.json()
        return codes

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = [c for cs in pool.map(post, jobs) for c in cs]
    assert codes.count(201) == len(jobs) and codes.count(200) == len(jobs) // 4
    for number in numbers:
        points = ok(api.get(f"/api/v1/certificates/{number}",
                            headers=world.headers("lab", "checker")))["points"]
        assert len(points) == 3 * 12
    # simple rule: an error of 90 µV is inside ±100 µV, 200 µV is outside
    assert {a["points"][1]["conformity"] for a in answers.values()} == {Outcome.PASS.value}
    assert {a["points"][2]["conformity"] for a in answers.values()} == {Outcome.FAIL.value}
    with Session(db_engine) as s:
        assert audit.verify_chain(s).ok
