"""Search at national scale: the count stops at its cap and says so (the JSON answer, the
search page), and PostgreSQL's page found as ids first is the same page, in the same order,
as one query over the whole rows gives, for every filter and sort, on both backends."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from labctl.api import ServerThread, create_app
from labctl.platform import registry
from labctl.platform.db import make_engine, migrate
from labctl.platform.models import Organisation, Standard
from labctl.platform.models.registry import Capability
from labctl.platform.registry import search as search_module
from labctl.platform.settings import Settings

CAP = registry.TOTAL_CAP
N = CAP + 300  # entries with the word "capword": more than the count goes to
EDGE = CAP  # of them, exactly the cap also have "edgeword" (counted in full)
QUANTITIES = [("DC voltage", "V", "electrical DC"), ("resistance", "Ω", "electrical DC"),
              ("temperature", "°C", "temperature")]


def _rows(orgs: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(13)
    now = datetime.now(UTC)
    standards, cmcs = [], []
    for i in range(N + 100):
        qty, unit, domain = rng.choice(QUANTITIES)
        lo = rng.choice([0.0, 0.001, 1.0, 10.0])
        hi = lo + rng.choice([1.0, 10.0, 100.0, 1000.0])
        rel = rng.choice([1e-6, 2e-6, 5e-6, 1e-5])  # ties, so the later sort keys matter
        ab = rng.choice([0.0, 1e-7, 1e-3])
        words = ["capword"] if i < N else ["other"]
        if i < EDGE:
            words.append("edgeword")
        words.append(rng.choice(["fluke", "keysight", "beamex"]))
        text = " ".join([f"S-{i:06d}", *words, domain, qty])
        common = {"domain": domain, "quantity": qty, "unit": unit, "range_min": repr(lo),
                  "range_max": repr(hi), "range_min_f": lo, "range_max_f": hi,
                  "uncertainty_relative": repr(rel), "uncertainty_absolute": repr(ab),
                  "uncertainty_relative_f": rel, "uncertainty_absolute_f": ab,
                  "organisation_id": rng.choice(orgs), "created_at": now,
                  "review_state": "published" if rng.random() < 0.99 else "draft"}
        standards.append({**common, "identifier": f"S-{i:06d}", "kind": "working",
                          "description": " ".join(words), "manufacturer": "", "model": "",
                          "serial_number": "", "accuracy_class": "",
                          "status": rng.choice(["in_service", "in_service", "retired"]),
                          "calibration_interval_days": 365, "search_text": text.lower()})
        if i % 20 == 0:
            cmcs.append({**common, "method": "comparison",
                         "search_text": f"{qty} comparison {words[-1]}".lower()})
    return standards, cmcs


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory,
           postgres_database_factory: Any) -> Iterator[list[sa.Engine]]:
    """The same ~10 000 entries on SQLite and on PostgreSQL (bulk-written, as a migration
    would: the search reads them, no workflow is under test here)."""
    path = tmp_path_factory.mktemp("scale") / "scale.db"
    engines = [make_engine(f"sqlite:///{path}"), make_engine(postgres_database_factory())]
    for e in engines:
        migrate(e)
        with e.begin() as c:
            orgs = []
            for k, region in enumerate(["North", "South", "East"]):
                table: Any = Organisation.__table__  # type: ignore[attr-defined]
                orgs.append(c.execute(sa.insert(table).values(
                    code=f"SC{k}", name=f"Scale lab {k}", level="local", region=region,
                    country_code="DE", address="", accreditation="",
                    created_at=datetime.now(UTC)).returning(table.c.id)).scalar_one())
            standards, cmcs = _rows(orgs)
            c.execute(sa.insert(Standard.__table__), standards)  # type: ignore[attr-defined]
            c.execute(sa.insert(Capability.__table__), cmcs)  # type: ignore[attr-defined]
        with e.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE" if e.dialect.name == "postgresql" else "ANALYZE")
    yield engines
    for e in engines:
        e.dispose()


def _ids(page: Any) -> list[str]:
    return [s.identifier for s in page.items]


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_the_count_stops_at_the_cap_and_says_it_is_a_lower_bound(loaded: list[sa.Engine]
                                                                 ) -> None:
    for e in loaded:
        with Session(e) as s:
            def find(**kw: Any) -> Any:
                return registry.search_standards(s, registry.SearchFilters(
                    sort="identifier", **kw))

            published = sorted(s.exec(select(Standard.identifier).where(
                Standard.review_state == "published",
                Standard.search_text.contains("capword"))).all())  # type: ignore[attr-defined]
            assert len(published) > CAP  # the data has more matches than the cap
            first = find(q="capword", limit=20)
            assert (first.total, first.total_is_lower_bound) == (CAP, True), e.dialect.name
            assert _ids(first) == published[:20]
            # a page past the cap is still found (the count cannot tell where the end is)
            beyond = find(q="capword", offset=CAP, limit=200)
            assert _ids(beyond) == published[CAP:CAP + 200], e.dialect.name
            assert beyond.total_is_lower_bound
            assert find(q="capword", offset=len(published), limit=5).items == []
            # few matches, a page past the last: still the count
            few_ids = sorted(s.exec(select(Standard.identifier).where(
                Standard.review_state == "published",
                Standard.search_text.contains("beamex"),  # type: ignore[attr-defined]
                Standard.search_text.contains("s-0000"))).all())  # type: ignore[attr-defined]
            assert 0 < len(few_ids) < registry.WALK_FROM
            past = find(q="s-0000 beamex", offset=len(few_ids) + 3, limit=5)
            assert (past.items, past.total, past.total_is_lower_bound) == (
                [], len(few_ids), False)
            assert _ids(find(q="s-0000 beamex", offset=2, limit=5)) == few_ids[2:7]
            # at most the cap: an exact count
            edge = sorted(s.exec(select(Standard.identifier).where(
                Standard.review_state == "published",
                Standard.search_text.contains("edgeword"))).all())  # type: ignore[attr-defined]
            assert len(edge) <= CAP
            exact = find(q="edgeword", limit=1)
            assert (exact.total, exact.total_is_lower_bound) == (len(edge), False)
            # no filter at all: every published entry, more than the cap
            everything = find(limit=1)
            assert (everything.total, everything.total_is_lower_bound) == (CAP, True)
            few = find(q="capword", organisation="SC1", quantity="temperature", limit=1)
            assert few.total < CAP and not few.total_is_lower_bound
            assert few.total == s.exec(sa.select(sa.func.count()).select_from(Standard).join(
                Organisation, Organisation.id == Standard.organisation_id).where(
                Organisation.code == "SC1", Standard.quantity == "temperature",
                Standard.review_state == "published",
                Standard.search_text.contains("capword"))).one()[0]  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_the_json_answer_and_the_search_page_say_10000_plus(loaded: list[sa.Engine],
                                                           tmp_path: Path) -> None:
    for e in loaded:
        url = e.url.render_as_string(hide_password=False)
        app = create_app(Settings(database_url=url, keys_dir=tmp_path / e.dialect.name,
                                  migrate_on_start=False))
        with ServerThread(app) as base, httpx.Client(base_url=base, timeout=30) as c:
            body = c.get("/api/v1/standards", params={"q": "capword", "limit": 1}).json()
            assert (body["total"], body["total_is_lower_bound"]) == (CAP, True)
            exact = c.get("/api/v1/standards", params={"q": "edgeword", "limit": 1}).json()
            assert exact["total_is_lower_bound"] is False and exact["total"] <= CAP
            html = c.get("/", params={"what": "standards", "q": "capword", "size": 100}).text
            assert f"Results found: {CAP}+" in html
            assert f"Page 1 of {CAP // 100}+" in html and 'rel="next"' in html
            # the last counted page still offers the next one: more entries match
            last = c.get("/", params={"what": "standards", "q": "capword", "size": 100,
                                      "page": CAP // 100}).text
            assert 'rel="next"' in last
            small = c.get("/", params={"what": "standards", "q": "edgeword fluke"}).text
            assert "Results found: " in small and f"{CAP}+" not in small


def _one_query(s: Session, table: Any, f: registry.SearchFilters) -> list[Any]:
    """The page as one query over the whole rows (the way the page was found before)."""
    dialect = s.get_bind().dialect.name
    stmt = search_module._apply_filters(
        select(table, Organisation).join(Organisation, Organisation.id == table.organisation_id),
        table, f, dialect)
    return [row[0].id for row in s.exec(stmt.order_by(*search_module._order(table, f))
                                        .offset(f.offset).limit(f.limit))]


FILTERS: list[dict[str, Any]] = [
    {},
    {"q": "fluke"},
    {"q": "capword keysight"},
    {"q": "s-0001"},
    {"quantity": "DC voltage", "value": Decimal(5),
     "max_relative_uncertainty": Decimal("0.000005")},
    {"quantity": "temperature", "value": Decimal(20), "max_uncertainty": Decimal("0.01")},
    {"domain": "electrical DC", "region": "South"},
    {"organisation": "SC2"},
    {"organisation": "SC0", "q": "beamex"},
    {"max_relative_uncertainty": Decimal("0.000002"), "unit": "Ω"},
]


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_page_found_by_ids_first_is_the_same_page_in_the_same_order(
        loaded: list[sa.Engine]) -> None:
    checked = 0
    for e in loaded:
        with Session(e) as s:
            for table in (Standard, Capability):
                for kw in FILTERS:
                    for sort in ("uncertainty", "organisation", "range", "identifier",
                                 "newest"):
                        for offset, limit in ((37, 13), (400, 200)):
                            f = registry.SearchFilters(**kw, sort=sort,  # type: ignore[arg-type]
                                                       offset=offset, limit=limit)
                            expected = _one_query(s, table, f)
                            # in the index's order, and (free text: few matches) written so
                            # that no index serves it
                            for indexed in (True, False) if "q" in kw else (True,):
                                got = [row[0].id for row in search_module._page_ids(
                                    s, table, f, e.dialect.name, indexed)]
                                assert got == expected, (e.dialect.name, table.__name__, kw,
                                                         sort, offset, indexed)
                            checked += bool(expected)
            # and through the public function, which takes that path on PostgreSQL, walking
            # the order's index or sorting the matches (the count decides: both forced here)
            for kw in FILTERS:
                f = registry.SearchFilters(**kw, limit=30)
                expected_ids = [s.get(Standard, i).identifier  # type: ignore[union-attr]
                                for i in _one_query(s, Standard, f)]
                for walk_from in (1, 10**9):
                    assert _ids(registry.search_standards(s, f, walk_from=walk_from)) == \
                        expected_ids, (e.dialect.name, kw, walk_from)
    assert checked > 200  # most combinations found rows: the comparison was not of nothing


def test_search_text_is_kept_within_what_a_btree_entry_holds() -> None:
    from labctl.platform.registry.text import MAX_BYTES, MAX_CHARS, _words

    assert _words("Fluke", "5522A") == "fluke 5522a"
    cjk = _words("校准器" * 400)  # 1200 characters of 3 bytes each
    assert len(cjk.encode()) <= MAX_BYTES and len(cjk) == MAX_BYTES // 3
    assert cjk == ("校准器" * 400)[:MAX_BYTES // 3]  # no character cut in two
    odd = _words("a" + "é" * 1500)  # the byte limit falls inside a two-byte character
    assert len(odd.encode()) <= MAX_BYTES and odd.endswith("é") and odd.startswith("aé")
    assert len(_words("x" * 5000)) == MAX_CHARS


@pytest.mark.timeout(120)
def test_migration_0015_shortens_long_texts_and_goes_down_and_up(fresh_database_url: str
                                                                 ) -> None:
    from alembic import command

    from labctl.platform.db import alembic_config

    engine = make_engine(fresh_database_url)
    try:
        migrate(engine, "0014")
        long_text = "s-long " + "校准器" * 330  # 997 characters, 2977 bytes: too long
        with engine.begin() as c:
            table: Any = Organisation.__table__  # type: ignore[attr-defined]
            org = c.execute(sa.insert(table).values(
                code="LONG", name="Long", level="local", region="North", country_code="DE",
                address="", accreditation="", created_at=datetime.now(UTC)
            ).returning(table.c.id)).scalar_one()
            row = {**_rows([org])[0][0], "identifier": "S-LONG", "search_text": long_text}
            c.execute(sa.insert(Standard.__table__), [row])  # type: ignore[attr-defined]
        migrate(engine)
        pg = engine.dialect.name == "postgresql"
        with engine.connect() as c:
            text = c.execute(sa.text("SELECT search_text FROM standard")).scalar_one()
            names = {i["name"] for i in sa.inspect(c).get_indexes("standard")}
        assert text == (long_text.encode()[:2400].decode(errors="ignore") if pg else long_text)
        assert ("ix_standard_by_u_cover" in names) == pg
        assert ("ix_standard_by_u" in names) == ("ix_standard_id_state" in names) == (not pg)
        with Session(engine) as s:
            assert _ids(registry.search_standards(s, registry.SearchFilters(q="s-long"))) == [
                "S-LONG"]
        cfg = alembic_config(engine)
        with engine.begin() as c:
            cfg.attributes["connection"] = c
            command.downgrade(cfg, "0014")
        with engine.connect() as c:
            names = {i["name"] for i in sa.inspect(c).get_indexes("standard")}
        assert {"ix_standard_by_u", "ix_standard_search", "ix_standard_domain_u"} <= names
        assert not {n for n in names if n.endswith(("_cover", "_id_state"))}
        migrate(engine)
    finally:
        engine.dispose()
