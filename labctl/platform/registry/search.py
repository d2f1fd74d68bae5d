"""Search of published standards and CMCs: free text, quantity, value in range, uncertainty,
organisation, with sorting and paging; the same filters on SQLite (words table, index walks)
and PostgreSQL (trigram indexes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import ValidationError
from labctl.platform.db import SQLITE_FTS, contains_pattern
from labctl.platform.models.base import (
    ReviewState,
    StandardKind,
    StandardStatus,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import (
    Capability,
    CapabilityPublic,
    Page,
    Standard,
    StandardCalibration,
    StandardPublic,
)
from labctl.platform.registry.entries import capability_public, standard_public
from labctl.platform.registry.text import terms

MAX_PAGE = 200

#: the answers' types, made once (pydantic keeps a parametrised model only while something
#: holds it: made per call, it was built again each time, some 5 ms)
StandardPage = Page[StandardPublic]
CapabilityPage = Page[CapabilityPublic]

#: the count of a search stops after this many matches: beyond it the answer gives the cap
#: as a lower bound (``total_is_lower_bound``; the pages show "10000+"). Counting every one
#: of a million entries' matches for a frequent word costs more than finding the page.
TOTAL_CAP = 10_000


#: At least this many free-text matches make a page cheaper to find by walking the sort
#: order's index (see :func:`_walk`) than by sorting every match.
WALK_FROM = 1000


#: sort orders with an index to walk (``ix_standard_by_u``/``ix_capability_by_u``, the
#: identifier's, the primary key)
WALKABLE = frozenset({"uncertainty", "identifier", "newest"})


@dataclass(frozen=True)
class SearchFilters:
    """Public search filters shared by standards and capabilities (all optional).

    ``value`` must lie in the entry's range; ``max_uncertainty`` is the absolute expanded
    uncertainty at ``value`` (needs ``value``); ``max_relative_uncertainty`` the relative one
    (at ``value`` when given, else the relative term alone). ``q``: every word of it (up to 8,
    case-insensitive) must occur in the entry's text (identifier, description, maker, model,
    serial number, domain, quantity, holder), anywhere in a word: "5522" finds "5522A".
    """

    domain: str | None = None
    quantity: str | None = None
    unit: str | None = None
    value: Decimal | None = None
    max_uncertainty: Decimal | None = None
    max_relative_uncertainty: Decimal | None = None
    organisation: str | None = None
    region: str | None = None
    q: str | None = None
    kind: StandardKind | None = None
    status: StandardStatus | None = None
    sort: Literal["uncertainty", "organisation", "range", "identifier", "newest"] = "uncertainty"
    offset: int = 0
    limit: int = 50

    @property
    def words(self) -> list[str]:
        """The words of ``q`` the search matches (the first 8)."""
        return terms(self.q or "")[:8]

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise ValidationError("limit", self.limit, f"1 … {MAX_PAGE}")
        if self.offset < 0:
            raise ValidationError("offset", self.offset, ">= 0")
        if self.max_uncertainty is not None and self.value is None:
            raise ValidationError("max_uncertainty", str(self.max_uncertainty),
                                  "only together with value (the uncertainty is taken there)")
        for name in ("value", "max_uncertainty", "max_relative_uncertainty"):
            v = getattr(self, name)
            if v is not None and (not v.is_finite() or abs(v) > Decimal("1e30")):
                raise ValidationError(name, str(v), "a finite number of magnitude below 1e30")
        if self.max_relative_uncertainty is not None and self.value is not None \
                and self.value == 0:
            raise ValidationError("value", "0", "non-zero when a relative uncertainty is asked")


#: How SQLite meets the free text's words (see :func:`_contains_all`)
Words = Literal["index", "walk", "driving"]


def _fts_match(table: type[Standard] | type[Capability], words: list[str]) -> tuple[Any, Any]:
    """SQLite: the FTS5 table over ``table`` and its ``MATCH`` of every long word, a quoted
    phrase each (a trigram table matches a phrase's characters consecutively: a substring,
    answered from the index positions alone; the words hold no '"')."""
    name = SQLITE_FTS[table.__tablename__]
    fts = sa.table(name, sa.column("rowid"))
    return fts, sa.literal_column(name).op("MATCH")(" AND ".join(f'"{w}"' for w in words))


def _long(words: list[str]) -> list[str]:
    """The words with a trigram (three characters or more): the ones an index can answer."""
    return [w for w in words if len(w) >= 3]


def _contains_all(table: type[Standard] | type[Capability], words: list[str],
                  dialect: str, how: Words = "index") -> Any:
    """Every word occurs in the entry's ``search_text``, answered from its trigram index.

    The text is stored lower-cased and the words are lower-cased the same way (``terms``), so
    a case-sensitive substring test gives the same rows on both backends. PostgreSQL:
    ``LIKE '%word%'`` on the pg_trgm GIN index. SQLite: ``MATCH '"word"'`` on the FTS5
    trigram table (case-sensitive; the words hold only letters, digits, '_' and '.'). A word
    under three characters has no trigram: it is tested on the text of the rows the other
    words leave (on SQLite with ``GLOB '*w*'`` on the entry's row, outside FTS5, which misses
    such a word when it is 3+ bytes long, e.g. "µv").

    ``how`` (SQLite): ``index``, the rows FTS5 gives (``id IN (…)``); ``walk``, the words
    match many entries (the caller counted them), so the page is found sooner by walking
    the index of the sort order and testing each row's own text with ``GLOB`` (the same
    substring test; a walk stops after a few rows per match, where the FTS5 list of every
    match would be built first); ``driving``, the caller joined the FTS5 table and matches
    the long words there (only the short ones are left to test here).
    """
    t: Any = table
    if dialect == "postgresql":
        return sa.and_(*(t.search_text.like(contains_pattern(w), escape="\\")
                         for w in words))
    tested = words if how == "walk" else [w for w in words if w not in _long(words)]
    conds = [t.search_text.op("GLOB")(f"*{w}*") for w in tested]
    if how == "index" and _long(words):
        fts, match = _fts_match(table, _long(words))
        conds.append(t.id.in_(select(fts.c.rowid).where(match)))
    return sa.and_(sa.true(), *conds)


def _apply_filters(stmt: Any, table: type[Standard] | type[Capability], f: SearchFilters,
                   dialect: str = "sqlite", how: Words = "index") -> Any:
    t: Any = table
    stmt = stmt.where(t.review_state == ReviewState.PUBLISHED.value)
    if f.domain:
        stmt = stmt.where(t.domain == f.domain)
    if f.quantity:
        stmt = stmt.where(t.quantity == f.quantity)
    if f.unit:
        stmt = stmt.where(t.unit == f.unit)
    if f.value is not None:
        v = float(f.value)
        stmt = stmt.where(t.range_min_f <= v, t.range_max_f >= v)
        if f.max_uncertainty is not None:
            stmt = stmt.where(t.uncertainty_relative_f * abs(v) + t.uncertainty_absolute_f
                              <= float(f.max_uncertainty))
        if f.max_relative_uncertainty is not None:
            stmt = stmt.where(t.uncertainty_relative_f + t.uncertainty_absolute_f / abs(v)
                              <= float(f.max_relative_uncertainty))
    elif f.max_relative_uncertainty is not None:
        stmt = stmt.where(t.uncertainty_relative_f <= float(f.max_relative_uncertainty))
    if f.organisation:
        stmt = stmt.where(Organisation.code == f.organisation)
    if f.region:
        stmt = stmt.where(Organisation.region == f.region)
    words = f.words
    if words:
        stmt = stmt.where(_contains_all(table, words, dialect, how))
    if table is Standard:
        if f.kind:
            stmt = stmt.where(t.kind == f.kind.value)
        if f.status:
            stmt = stmt.where(t.status == f.status.value)
    return stmt


def _same(column: Any) -> Any:
    return column


def _plain(column: Any) -> Any:
    """``column`` in the same order, as an expression no index serves."""
    return column.concat("") if isinstance(column.type, sa.String) else column + 0


def _order(table: type[Standard] | type[Capability], f: SearchFilters,
           indexed: bool = True) -> list[Any]:
    """The sort of ``f``; ``indexed=False`` (few free-text matches): the same order
    written so that no index can serve it, so the matches are found first and then sorted,
    instead of walking the whole sort index and testing every row against words no index
    answers (a word under three characters)."""
    t: Any = table
    c: Callable[[Any], Any] = _same if indexed else _plain
    key = c(t.identifier if table is Standard else t.id)
    if f.sort == "uncertainty":
        if f.value is not None:
            v = abs(float(f.value))
            return [t.uncertainty_relative_f * v + t.uncertainty_absolute_f, key]
        return [c(t.uncertainty_relative_f), c(t.uncertainty_absolute_f), key]
    if f.sort == "organisation":
        return [Organisation.code, key]
    if f.sort == "range":
        return [t.range_min_f, t.range_max_f, key]
    if f.sort == "newest":
        return [sa.desc(c(t.id))]
    return [key]


def _counted(table: type[Standard] | type[Capability], f: SearchFilters, dialect: str,
             expected_many: bool = False) -> Any:
    """How many entries pass ``f``, up to ``TOTAL_CAP + 1`` (one more tells "more than the
    cap"): ``count(*)`` over a ``LIMIT``-ed subquery, so the database stops looking there.
    Joined to the holder only when a filter needs it (every entry has one: the join never
    removes a row, and costs a lookup per match).

    Free text on PostgreSQL, when the planner expects the cap to be reached
    (``expected_many``, :func:`_many_expected`): counted in the sort order, so the covering
    index (the text is in it) is walked and the walk stops at the cap, where the planner
    would read the table from its start, testing every row's text. (With fewer expected,
    the count comes with the page, :func:`_page_and_count`, and is asked here only for a
    page past the last match.) SQLite, when nothing but the
    words narrows the search: FTS5 drives, its matches looked up one by one until the cap,
    instead of building the list of every match first.
    """
    t: Any = table
    stmt = select(t.id)
    how: Words = "index"
    long = _long(f.words)
    if dialect == "sqlite" and long and not _narrowed(f):
        fts, match = _fts_match(table, long)
        stmt = select(t.id).select_from(fts).join(table, t.id == fts.c.rowid).where(match)
        how = "driving"
    if f.organisation or f.region:
        stmt = stmt.join(Organisation, Organisation.id == t.organisation_id)
    stmt = _apply_filters(stmt, table, f, dialect, how)
    if expected_many:
        stmt = stmt.order_by(*_order(table, f))
    inner = stmt.limit(TOTAL_CAP + 1).subquery()
    return select(func.count()).select_from(inner)


def _planned_rows(session: Session, stmt: Any) -> float:
    """PostgreSQL: how many rows the planner expects ``stmt`` to give (``EXPLAIN``, planned
    but not run: about a millisecond), from its statistics of the columns (for ``LIKE '%word%'``,
    the share of its sample of texts that contain the word)."""
    connection = session.connection()
    compiled = stmt.compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                      compiled.params).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def _filtered_ids(table: type[Standard] | type[Capability], f: SearchFilters, dialect: str,
                  *columns: Any) -> Any:
    """``SELECT id, *columns`` of the entries passing ``f`` (joined to the holder when a
    filter or the sort needs it)."""
    t: Any = table
    stmt = select(t.id, *columns)
    if f.organisation or f.region or f.sort == "organisation":
        stmt = stmt.join(Organisation, Organisation.id == t.organisation_id)
    return _apply_filters(stmt, table, f, dialect)


def _many_expected(session: Session, table: type[Standard] | type[Capability],
                   f: SearchFilters) -> bool:
    """PostgreSQL, free text in a walkable order: does the planner expect more matches than
    the cap (a frequent word: count and page walk the order's covering index)?"""
    return f.sort in WALKABLE and _planned_rows(
        session, _filtered_ids(table, f, "postgresql")) > TOTAL_CAP


def _page_and_count(session: Session, table: type[Standard] | type[Capability],
                    f: SearchFilters) -> tuple[int, list[Any]] | None:
    """PostgreSQL, free text with few matches expected: the page's ids and how many match,
    in one pass (``count(*) OVER ()`` before the page is cut), instead of a count and then a
    page query that both look the words up in the trigram index and test every match's
    text in the table. The order is written so that no index serves it (:func:`_walk`).
    None when the page is empty (past the last match: the count is not known then)."""
    rows = list(session.exec(_filtered_ids(table, f, "postgresql", func.count().over())
                             .order_by(*_order(table, f, indexed=False))
                             .offset(f.offset).limit(f.limit)))
    if not rows:
        return None
    return int(rows[0][1]), [r[0] for r in rows]


def _narrowed(f: SearchFilters) -> bool:
    """Does a filter other than the words narrow the search (one an index can answer)?"""
    return bool(f.domain or f.quantity or f.unit or f.value is not None or f.organisation
                or f.region)


def _walk(f: SearchFilters, total: int, walk_from: int) -> bool:
    """Find the page by walking the sort order's index (many free-text matches)?

    Free text only: the other filters have indexes of their own and the planner knows how
    many rows they leave; how many entries contain a word it can only guess (SQLite's does
    not know what FTS5 returns; PostgreSQL's guess from a sample can be off several times),
    so the count, taken first, decides. Few matches: the order is written so that no index
    serves it (:func:`_order`), so the matches are found first and sorted, instead of a walk
    through most of the order testing rows that do not match."""
    return bool(f.q) and total >= walk_from and f.sort in WALKABLE


def _page_ids(session: Session, table: type[Standard] | type[Capability], f: SearchFilters,
              dialect: str, indexed: bool = True) -> list[Any]:
    """PostgreSQL: the page's rows, found as ids first and then read by id.

    The page's ids come from the filters and the order alone, which the covering indexes
    of migration 0015 answer without reading the table (an index-only scan in the sort
    order, stopping after the page); only the page's rows are then read whole, with their
    holder. The same rows in the same order as one query would give."""
    ids = list(session.exec(_filtered_ids(table, f, dialect)
                            .order_by(*_order(table, f, indexed)).offset(f.offset)
                            .limit(f.limit)))
    return _rows(session, table, ids)


def _rows(session: Session, table: type[Standard] | type[Capability], ids: list[Any]
          ) -> list[Any]:
    """The (entry, holder) rows of ``ids``, in that order."""
    if not ids:
        return []
    t: Any = table
    rows: list[Any] = list(session.exec(
        select(table, Organisation).join(Organisation, Organisation.id == t.organisation_id)
        .where(t.id.in_(ids))))
    found = {entry.id: (entry, org) for entry, org in rows}
    return [found[i] for i in ids if i in found]


def _matches(session: Session, table: type[Standard] | type[Capability], f: SearchFilters,
             walk_from: int) -> tuple[int, bool, list[Any]]:
    """How many entries pass ``f`` (up to the cap, and whether there are more), and the page
    of (entry, holder) rows it asks for.

    The count comes first: it decides how the page is found (:func:`_walk`), and a page past
    the last match is not looked for at all (a search that finds nothing, a typo, would
    otherwise scan the table twice).
    """
    t: Any = table
    dialect = session.get_bind().dialect.name
    many = dialect == "postgresql" and bool(f.q) and _many_expected(session, table, f)
    if dialect == "postgresql" and f.q and not many:
        found = _page_and_count(session, table, f)
        if found is not None:
            n, ids = found
            return min(n, TOTAL_CAP), n > TOTAL_CAP, _rows(session, table, ids)
    counted: int = session.exec(_counted(table, f, dialect, many)).one()
    total, more = min(counted, TOTAL_CAP), counted > TOTAL_CAP
    if not more and total <= f.offset:
        return total, more, []
    walk = _walk(f, total, walk_from)
    few = bool(f.q) and not walk
    if dialect == "postgresql":
        return total, more, _page_ids(session, table, f, dialect, indexed=not few)
    stmt = _apply_filters(
        select(table, Organisation).join(Organisation, Organisation.id == t.organisation_id),
        table, f, dialect, "walk" if walk else "index")
    rows = session.exec(stmt.order_by(*_order(table, f, indexed=not few))
                        .offset(f.offset).limit(f.limit)).all()
    return total, more, list(rows)


def search_standards(session: Session, f: SearchFilters, *, walk_from: int = WALK_FROM
                     ) -> StandardPage:
    total, more, rows = _matches(session, Standard, f, walk_from)
    cal_ids = [s.current_calibration_id for s, _ in rows if s.current_calibration_id]
    cals = {c.id: c for c in session.exec(select(StandardCalibration).where(
        col(StandardCalibration.id).in_(cal_ids))).all()} if cal_ids else {}
    return StandardPage(
        items=[standard_public(session, s, o, cals.get(s.current_calibration_id or -1))
               for s, o in rows], total=total, offset=f.offset, limit=f.limit,
        total_is_lower_bound=more)


def search_capabilities(session: Session, f: SearchFilters, *, walk_from: int = WALK_FROM
                        ) -> CapabilityPage:
    total, more, rows = _matches(session, Capability, f, walk_from)
    return CapabilityPage(items=[capability_public(session, c, o) for c, o in rows],
                          total=total, offset=f.offset, limit=f.limit,
                          total_is_lower_bound=more)


