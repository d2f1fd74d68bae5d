"""Free-text search: substring matching from a trigram index, the same rows on both backends,
sorted and paginated, and entries written before the index was introduced still found."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from labctl.platform import registry
from labctl.platform.db import alembic_config, make_engine, migrate
from labctl.platform.models import Organisation, Standard
from tests.fixtures.db import World
from tests.platform.helpers import ok, publish_cmc, publish_standard, uid

# --- through the API, on each backend ------------------------------------------------------


def _idents(page: dict[str, Any]) -> list[str]:
    return [s["identifier"] for s in page["items"]]


def test_free_text_matches_any_part_of_a_word(api: httpx.Client, world: World) -> None:
    tag = uid("zq").replace("-", "").lower()  # a word no other test's entries contain
    a = publish_standard(api, world, "lab", description=f"Multi-product calibrator {tag}",
                         manufacturer="Fluke", model="5522A")
    b = publish_standard(api, world, "lab", description=f"Multifunction calibrator {tag}",
                         manufacturer="Fluke", model="5730A")

    def q(text: str, **params: Any) -> list[str]:
        return _idents(ok(api.get("/api/v1/standards", params={"q": text, "sort": "identifier",
                                                                **params})))

    both = sorted([a["identifier"], b["identifier"]])
    assert q(f"{tag} 5522") == [a["identifier"]]  # the start of "5522a"
    assert q(f"{tag} 522A") == [a["identifier"]]  # inside a word, any case
    assert q(f"{tag} LIBRAT") == both
    assert q(f"{tag} product calib") == [a["identifier"]]  # every word must occur
    assert q(f"{tag} 5522b") == []
    assert q(tag[2:9]) == both  # the tag's middle
    assert q(f"{tag} 5") == both  # one character: no trigram, still exact
    # sorted and paginated over the matches
    assert q(tag, limit=1) == both[:1] and q(tag, limit=1, offset=1) == both[1:]
    assert ok(api.get("/api/v1/standards", params={"q": tag, "limit": 1}))["total"] == 2


def test_free_text_underscore_and_dot_are_literal(api: httpx.Client, world: World) -> None:
    tag = uid("u").replace("-", "")
    under = publish_standard(api, world, "lab", identifier=f"{tag}_1.5")
    publish_standard(api, world, "lab", identifier=f"{tag}X1X5")  # '_' and '.' as wildcards
    for text in (f"{tag}_1.5", f"{tag.lower()}_1", "_1.5"):
        found = _idents(ok(api.get("/api/v1/standards", params={"q": text})))
        assert under["identifier"] in found and f"{tag}X1X5" not in found, text


def test_capability_free_text_and_bad_filters_name_the_field(api: httpx.Client,
                                                            world: World) -> None:
    tag = uid("cm").replace("-", "").lower()
    cmc = publish_cmc(api, world, "lab", method=f"Josephson comparison {tag}")
    found = ok(api.get("/api/v1/capabilities", params={"q": f"osephs {tag[1:]}"}))
    assert [c["id"] for c in found["items"]] == [cmc["id"]]
    for params, field in (({"q": "x" * 201}, "q"), ({"limit": 0}, "limit"),
                          ({"offset": -1}, "offset"), ({"value": "abc"}, "value"),
                          ({"sort": "random"}, "sort"), ({"max_uncertainty": "1"},
                                                         "max_uncertainty")):
        r = api.get("/api/v1/capabilities", params=params)
        assert r.status_code == 422, (params, r.text)
        assert field in r.text, (params, r.text)


# --- the same rows on SQLite and PostgreSQL --------------------------------------------------

WORDS = ["fluke", "keysight", "5522a", "5730a", "3458a", "m12", "m123", "m1234", "dc", "voltage",
         "résistance", "straße", "µv/v", "°c", "x_y", "1.5", "10.0", "a.b_c", "ω", "zener",
         "calibrator", "multi-product", "dmm", "bs-000123", "prt-25", "ssprt", "abcxbcd"]


def _org(conn: sa.Connection, code: str) -> int:
    table: Any = Organisation.__table__  # type: ignore[attr-defined]
    org_id: int = conn.execute(sa.insert(table).values(
        code=code, name=f"Org {code}", level="local", region="North", country_code="DE",
        address="", accreditation="", created_at=datetime.now(UTC)
    ).returning(table.c.id)).scalar_one()
    return org_id


def _standard(org_id: int, i: int, text: str) -> dict[str, Any]:
    return {"identifier": f"X-{i:05d}", "kind": "working", "description": text,
            "manufacturer": "", "model": "", "serial_number": "", "domain": "electrical DC",
            "quantity": "DC voltage", "unit": "V", "range_min": "0", "range_max": "10",
            "range_min_f": 0.0, "range_max_f": 10.0, "uncertainty_relative": "0.00001",
            "uncertainty_absolute": "0", "uncertainty_relative_f": 1e-5,
            "uncertainty_absolute_f": 0.0, "accuracy_class": "", "organisation_id": org_id,
            "status": "in_service", "calibration_interval_days": 365,
            "review_state": "published", "created_at": datetime.now(UTC),
            "search_text": text.lower()}


@pytest.fixture
def two_backends(tmp_path: Path, postgres_database_factory: Any) -> Iterator[list[sa.Engine]]:
    engines = [make_engine(f"sqlite:///{tmp_path / 'x.db'}"),
               make_engine(postgres_database_factory())]
    for e in engines:
        migrate(e)
    yield engines
    for e in engines:
        e.dispose()


def _search(engine: sa.Engine, q: str) -> tuple[int, list[str]]:
    with Session(engine) as s:
        page = registry.search_standards(s, registry.SearchFilters(q=q, sort="identifier",
                                                                   limit=200))
    return page.total, [i.identifier for i in page.items]


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_same_free_text_results_on_sqlite_and_postgresql(two_backends: list[sa.Engine]) -> None:
    rng = random.Random(4)
    texts = {i: " ".join(rng.sample(WORDS, rng.randint(1, 6))) for i in range(400)}
    for e in two_backends:
        with e.begin() as c:
            org = _org(c, "SRCH")
            c.execute(sa.insert(Standard.__table__),  # type: ignore[attr-defined]
                      [_standard(org, i, t) for i, t in texts.items()])

    def check(queries: list[str]) -> None:
        for q in queries:
            words = registry.terms(q)[:8]
            expected = sorted(f"X-{i:05d}" for i, t in texts.items()
                              if all(w in t.lower() for w in words))
            for e in two_backends:
                total, got = _search(e, q)
                assert (total, got) == (len(expected), expected[:200]), (e.dialect.name, q)

    def queries() -> list[str]:
        out = ["", "FLUKE", "x_y", "a.b_c", "_", ".", "ß", "µv", "°c", "ω", "5522A fluke",
               "m12 m123", "nothing-here", "résist", "1.5", "-product",
               "abcd", "bcxb"]  # "abcd": its trigrams are all in "abcxbcd", not in a row
        for _ in range(80):  # random fragments of the stored text, one to three at once
            frags = []
            for _ in range(rng.randint(1, 3)):
                w = rng.choice(WORDS)
                a = rng.randrange(len(w))
                frags.append(w[a:a + rng.randint(1, 6)])
            out.append(" ".join(frags))
        return out

    check(queries())
    # the index follows updates and deletes (on SQLite through the migration's triggers)
    for i in rng.sample(sorted(texts), 60):
        texts[i] = " ".join(rng.sample(WORDS, 2)) + " renamed"
    gone = rng.sample(sorted(texts), 30)
    for e in two_backends:
        with e.begin() as c:
            t = Standard.__table__  # type: ignore[attr-defined]
            for i, text in texts.items():
                c.execute(sa.update(t).where(t.c.identifier == f"X-{i:05d}")
                          .values(search_text=text.lower()))
            c.execute(sa.delete(t).where(t.c.identifier.in_([f"X-{i:05d}" for i in gone])))
    for i in gone:
        del texts[i]
    check([*queries(), "renamed", "renamed fluke"])


# --- the migration ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_upgrade_indexes_entries_written_before_it(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    try:
        migrate(engine, "0001")
        now = datetime.now(UTC)
        with engine.begin() as c:  # data as revision 0001 wrote it, term rows included
            org = _org(c, "OLD")
            sid = c.execute(sa.text(
                "INSERT INTO standard (identifier, kind, description, manufacturer, model, "
                "serial_number, domain, quantity, unit, range_min, range_max, range_min_f, "
                "range_max_f, uncertainty_relative, uncertainty_absolute, "
                "uncertainty_relative_f, uncertainty_absolute_f, accuracy_class, "
                "organisation_id, status, calibration_interval_days, review_state, "
                "created_at, search_text) VALUES ('OLD-1', 'working', 'Zener reference', "
                "'Fluke', '732C', 'SN9', 'electrical DC', 'DC voltage', 'V', '1', '10', 1, 10,"
                " '0.000001', '0', 0.000001, 0, '', :org, 'in_service', 365, 'published', "
                ":now, 'old-1 zener reference fluke 732c sn9') RETURNING id"),
                {"org": org, "now": now}).scalar_one()
            c.execute(sa.text("INSERT INTO standard_term (standard_id, term) VALUES "
                              "(:s, 'old-1'), (:s, 'zener'), (:s, 'fluke'), (:s, '732c')"),
                      {"s": sid})
            # the table as revision 0001 made it (the model's has columns added since)
            old_capability = sa.Table("capability", sa.MetaData(), autoload_with=c)
            c.execute(sa.insert(old_capability).values(
                organisation_id=org, domain="temperature", quantity="temperature",
                unit="°C", range_min="0", range_max="100", range_min_f=0.0,
                range_max_f=100.0, uncertainty_relative="0", uncertainty_absolute="0.01",
                uncertainty_relative_f=0.0, uncertainty_absolute_f=0.01,
                method="Fixed points", review_state="published", created_at=now,
                search_text="temperature fixed points org old"))
        migrate(engine)
        with Session(engine) as s:
            assert [i.identifier for i in registry.search_standards(
                s, registry.SearchFilters(q="ener 32C")).items] == ["OLD-1"]
            assert registry.search_capabilities(
                s, registry.SearchFilters(q="ixed")).total == 1
        assert "standard_term" not in sa.inspect(engine).get_table_names()
        # and back: the term tables are rebuilt from the text, then upgraded again
        cfg = alembic_config(engine)
        with engine.begin() as c:
            cfg.attributes["connection"] = c
            command.downgrade(cfg, "0001")
        with engine.connect() as c:
            assert sorted(c.execute(sa.text("SELECT term FROM standard_term")).scalars()) == [
                "1", "732c", "fluke", "old", "reference", "sn9", "zener"]
        migrate(engine)
        with Session(engine) as s:
            assert registry.search_standards(s, registry.SearchFilters(q="sn9")).total == 1
    finally:
        engine.dispose()


@pytest.mark.timeout(60)
def test_sqlite_walks_the_sort_index_for_a_frequent_word_with_the_same_rows(
        tmp_path: Path) -> None:
    """Many matches: the page comes from walking the sort order's index (SQLite cannot know
    how many rows FTS5 gives and would sort them all); it must be the same page, in every
    walkable order and at any offset, as sorting every match gives."""
    rng = random.Random(7)
    engine = make_engine(f"sqlite:///{tmp_path / 'walk.db'}")
    migrate(engine)
    texts = {i: " ".join(rng.sample(WORDS, rng.randint(1, 6))) for i in range(300)}
    with engine.begin() as c:
        org = _org(c, "WALK")
        rows = [_standard(org, i, t) for i, t in texts.items()]
        for r in rows:  # ties and distinct values, so the order's later keys matter too
            r["uncertainty_relative_f"] = rng.choice([1e-6, 2e-6, 5e-6, 1e-5])
            r["uncertainty_absolute_f"] = rng.choice([0.0, 1e-7])
        c.execute(sa.insert(Standard.__table__), rows)  # type: ignore[attr-defined]
    plans: list[str] = []
    walks = 0

    @sa.event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "LIMIT" in statement and "count(" not in statement:
            plans.append(" ".join(str(r[-1]) for r in cursor.execute(
                "EXPLAIN QUERY PLAN " + statement, params).fetchall()))

    try:
        with Session(engine) as s:
            for q in ("e", "fluke", "ab", "5522a m1"):
                for sort in sorted(registry.WALKABLE):
                    for offset in (0, 7, 40):
                        f = registry.SearchFilters(q=q, sort=sort, offset=offset,  # type: ignore[arg-type]
                                                   limit=15)
                        plans.clear()
                        walked = registry.search_standards(s, f, walk_from=1)
                        walked_plans = list(plans)
                        plans.clear()
                        sorted_all = registry.search_standards(s, f, walk_from=10**9)
                        assert [i.identifier for i in walked.items] == \
                            [i.identifier for i in sorted_all.items], (q, sort, offset)
                        assert walked.total == sorted_all.total
                        # a page past the last match is not looked for
                        assert bool(walked_plans) == bool(plans) == (walked.total > offset)
                        if sort == "uncertainty" and plans:
                            # few matches: found first, then sorted (never a walk of the
                            # whole index testing words no index answers)
                            assert "ix_standard_by_u" not in plans[-1], plans[-1]
                            if len(q) >= 3:
                                assert "ix_standard_by_u" in walked_plans[-1], walked_plans
                                walks += 1
    finally:
        engine.dispose()
    assert walks >= 4  # both long-word queries, at several offsets, went the walking way
