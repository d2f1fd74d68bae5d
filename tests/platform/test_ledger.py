"""The primary-standards ledger through the HTTP API of a live server, on a database of its
own (the report counts every record of the database, so its expected figures are this
module's): the report's table by metrology area and class against figures computed by hand,
its CSV read back with the csv module, formula cells neutralised, edits refused for another
organisation, another role, a station, a standard of another kind and bad input (nothing
changed), the history with old and new values, a clean audit trail, and the /ledger page
with its SVG chart parsed by lxml. Runs on SQLite and (marked postgres) PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from lxml import etree
from lxml import html as lxml_html

from labctl.api import ServerThread
from labctl.platform.admin import verify_audit
from labctl.platform.registry.ledger import csv_text
from tests.fixtures.db import World, _fresh_url, build_world
from tests.platform.helpers import ok, publish_standard, uid

LEDGER_TABLES = ("primary_standard_profile", "primary_standard_component", "audit_event")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Site:
    url: str
    database_url: str
    keys_dir: Path
    engine: sa.Engine
    world: World
    api: httpx.Client
    std: dict[str, str]  # seed key → identifier


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in LEDGER_TABLES}


def _primary(api: httpx.Client, world: World, key: str) -> str:
    ident = uid(f"NMI-{key.upper()}")
    publish_standard(api, world, "nmi", identifier=ident, kind="national_primary")
    return ident


# The seeded set: (key, area, ledger status, class, components (origin, alternative)).
SEED: list[tuple[str, str, str, str, list[tuple[str, str]]]] = [
    ("len1", "length", "in_service", "fully",
     [("imported", "yes"), ("imported", "no"), ("domestic", "no")]),
    ("len2", "length", "under_renovation", "fully", []),
    ("len3", "length", "in_service", "partly", []),
    ("len4", "length", "suspended", "not", []),
    ("tf1", "time-frequency", "in_service", "not", [("imported", "in_development")]),
    ("tf2", "time-frequency", "suspended", "partly", [("imported", "no")]),
    ("thm", "thermometry", "in_service", "fully", []),
]


@pytest.fixture(scope="module")
def site(platform_backend: str, tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[Site]:
    from labctl.api import create_app
    from labctl.platform.audit import use_key
    from labctl.platform.db import make_engine, migrate
    from labctl.platform.settings import Settings

    url = _fresh_url(platform_backend, tmp_path_factory.mktemp("ledger"), request)
    keys = tmp_path_factory.mktemp("ledger-keys")
    engine = make_engine(url)
    migrate(engine)
    use_key(engine, keys)
    settings = Settings(database_url=url, keys_dir=keys, migrate_on_start=False,
                        public_url="https://labctl.test", login_address_failure_limit=100_000)
    with ServerThread(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=60) as api:
        world = build_world(base, engine, "L" + secrets.token_hex(2).upper())
        de = world.headers("nmi", "data_entry")
        std = {}
        for key, area, status, reliance, parts in SEED:
            std[key] = _primary(api, world, key)
            ok(api.put(f"/api/v1/ledger/{std[key]}", headers=de, json={
                "domain": area, "status": status, "self_reliance": reliance}), 201)
            for i, (origin, alternative) in enumerate(parts):
                ok(api.post(f"/api/v1/ledger/{std[key]}/components", headers=de, json={
                    "name": f"part {i}", "origin": origin, "domestic_alternative": alternative,
                    "supplier": "Acme", "supplier_country": "DE"}), 201)
        std["bare"] = _primary(api, world, "bare")  # published, no ledger record
        # a draft primary standard with a record: not in the report (not published)
        draft = uid("NMI-DRAFT")
        ok(api.post("/api/v1/standards", headers=de, json={
            "identifier": draft, "kind": "national_primary", "description": "Draft",
            "domain": "electrical DC", "quantity": "DC voltage", "unit": "V",
            "range_min": "1", "range_max": "10", "uncertainty_relative": "0.000001",
            "uncertainty_absolute": "0", "organisation_code": world.orgs["nmi"]}), 201)
        ok(api.put(f"/api/v1/ledger/{draft}", headers=de, json={
            "domain": "mass", "self_reliance": "fully"}), 201)
        std["reference"] = publish_standard(api, world, "nmi")["identifier"]
        yield Site(base, url, keys, engine, world, api, std)
    engine.dispose()


def _cells(row: dict[str, Any]) -> list[tuple[int, str]]:
    return [(row[c]["count"], row[c]["percent"]) for c in ("fully", "partly", "not",
                                                            "suspended")]


def test_the_report_counts_by_area_and_class_as_computed_by_hand(site: Site) -> None:
    agg = ok(site.api.get("/api/v1/ledger/aggregates"))
    rows = {r["domain"]: r for r in agg["rows"]}
    assert list(rows) == ["acoustics", "electricity-magnetism", "length", "mass",
                          "photometry-radiometry", "chemistry", "ionising-radiation",
                          "thermometry", "time-frequency"]
    # length: 2 fully (one under renovation still counts in its class), 1 partly, a
    # suspended "not" counts as suspended only; 4 of 7 standards = 57.142… %
    assert _cells(rows["length"]) == [(2, "50.0"), (1, "25.0"), (0, "0.0"), (1, "25.0")]
    assert (rows["length"]["total"], rows["length"]["percent_of_all"]) == (4, "57.1")
    assert _cells(rows["time-frequency"]) == [(0, "0.0"), (0, "0.0"), (1, "50.0"),
                                              (1, "50.0")]
    assert (rows["time-frequency"]["total"], rows["time-frequency"]["percent_of_all"]) == \
        (2, "28.6")
    assert _cells(rows["thermometry"]) == [(1, "100.0"), (0, "0.0"), (0, "0.0"), (0, "0.0")]
    assert rows["thermometry"]["percent_of_all"] == "14.3"
    # the draft's record (mass) is not counted: not published
    assert rows["mass"]["total"] == 0 and rows["mass"]["percent_of_all"] == "0.0"
    total = agg["total"]
    assert _cells(total) == [(3, "42.9"), (1, "14.3"), (1, "14.3"), (2, "28.6")]
    assert (total["total"], total["percent_of_all"]) == (7, "100.0")
    assert agg["unprofiled"] == 1  # "bare"; the draft is not published
    # 5 components of counted standards (a suspended one's too), 4 imported (80 %): of
    # these 1 with a domestic alternative, 1 with one in development, 2 without
    comps = agg["components"]
    assert comps["components"] == 5
    assert comps["imported"] == {"count": 4, "percent": "80.0"}
    assert comps["with_alternative"] == {"count": 1, "percent": "25.0"}
    assert comps["alternative_in_development"] == {"count": 1, "percent": "25.0"}
    assert comps["without_alternative"] == {"count": 2, "percent": "50.0"}


def test_the_csv_reads_back_as_the_json_figures(site: Site) -> None:
    agg = ok(site.api.get("/api/v1/ledger/aggregates"))
    r = site.api.get("/api/v1/ledger/aggregates.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == \
        'attachment; filename="primary-standards-ledger.csv"'
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert rows[0][:3] == ["metrology area", "fully self-reliant", "fully %"]
    table = {row[0]: row for row in rows[1:11]}
    for expected in [*agg["rows"], agg["total"]]:
        got = table[expected["domain"]]
        assert got[1:9] == [str(v) for c in _cells(expected) for v in c]
        assert got[9:] == [str(expected["total"]), expected["percent_of_all"]]
    assert rows[11] == []
    summary = {row[0]: row[1:] for row in rows[13:]}
    assert summary["all"] == ["5", "100.0"]
    assert summary["imported"] == ["4", "80.0"]
    assert summary["imported, no domestic alternative"] == ["2", "50.0"]
    assert summary["national primary standards without a ledger record"] == ["1", ""]
    assert not any(c.startswith(("=", "+", "-", "@")) for row in rows for c in row)


def test_cells_a_spreadsheet_would_evaluate_are_neutralised() -> None:
    cells = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1:A2)", "\tx", "plain",
             "a=b", "", "1,5", 'say "hi"']
    text = csv_text([cells])
    assert text.endswith("\r\n")
    [back] = list(csv.reader(io.StringIO(text, newline="")))
    assert back[:5] == ["'" + c for c in cells[:5]]
    assert back[5:] == cells[5:]


def _refused(site: Site, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None, field: str | None = None) -> dict[str, Any]:
    before = _counts(site.engine)
    r = site.api.request(method, f"/api/v1{path}", headers=headers, json=body)
    assert r.status_code == status, r.text
    if field is not None:
        assert r.json()["field"] == field, r.text
    assert _counts(site.engine) == before
    return r.json()  # type: ignore[no-any-return]


def test_edits_are_refused_outside_the_holder_and_its_roles(site: Site) -> None:
    w, ident = site.world, site.std["len1"]
    body = {"domain": "length", "self_reliance": "not"}
    part = {"name": "laser", "origin": "imported", "domestic_alternative": "no"}
    for org, role in (("prov", "data_entry"), ("prov", "admin"), ("lab", "reviewer"),
                      ("nmi", "technician"), ("nmi", "checker"), ("nmi", "approver"),
                      ("cust", "customer")):
        err = _refused(site, "PUT", f"/ledger/{ident}", w.headers(org, role), 403, body)
        assert err["rule"] == "role", err
        _refused(site, "POST", f"/ledger/{ident}/components", w.headers(org, role), 403, part)
    _refused(site, "PUT", f"/ledger/{ident}", w.station("nmi"), 403, body)
    _refused(site, "PUT", f"/ledger/{ident}", {}, 401, body)
    # not a national primary standard, an unknown one, another standard's component
    _refused(site, "PUT", f"/ledger/{site.std['reference']}", w.headers("nmi", "data_entry"),
             404, body)
    _refused(site, "PUT", "/ledger/NO-SUCH-STD", w.headers("nmi", "data_entry"), 404, body)
    with site.engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT c.id FROM primary_standard_component c JOIN primary_standard_profile p "
            "ON p.id = c.profile_id JOIN standard s ON s.id = p.standard_id "
            "WHERE s.identifier = :i"), {"i": site.std["tf1"]}).scalar_one()
    _refused(site, "PUT", f"/ledger/{ident}/components/{other}",
             w.headers("nmi", "data_entry"), 404, part)
    # no record yet: components wait for it
    err = _refused(site, "POST", f"/ledger/{site.std['bare']}/components",
                   w.headers("nmi", "data_entry"), 409, part)
    assert err["rule"] == "no_ledger_record", err
    # bad input, said by field
    de = w.headers("nmi", "data_entry")
    _refused(site, "PUT", f"/ledger/{ident}", de, 422, {**body, "domain": "astrology"},
             "body.domain")
    _refused(site, "PUT", f"/ledger/{ident}", de, 422, {**body, "self_reliance": "mostly"},
             "body.self_reliance")
    _refused(site, "PUT", f"/ledger/{ident}", de, 422, {**body, "status": "retired"},
             "body.status")
    _refused(site, "PUT", f"/ledger/{ident}", de, 422, {**body, "risk_notes": "x" * 2001},
             "body.risk_notes")
    _refused(site, "PUT", f"/ledger/{ident}", de, 422, {**body, "colour": "red"}, "body.colour")
    _refused(site, "POST", f"/ledger/{ident}/components", de, 422,
             {**part, "origin": "smuggled"}, "body.origin")
    _refused(site, "POST", f"/ledger/{ident}/components", de, 422,
             {**part, "domestic_alternative": "maybe"}, "body.domestic_alternative")
    _refused(site, "POST", f"/ledger/{ident}/components", de, 422,
             {**part, "supplier_country": "Germany"}, "body.supplier_country")
    _refused(site, "POST", f"/ledger/{ident}/components", de, 422, {**part, "name": " "},
             "body.name")
    r = site.api.put(f"/api/v1/ledger/{ident}", headers={**de, "Content-Type":
                     "application/json"}, content=b'{"domain": "length", "self_reliance": '
                     b'"fully", "risk_notes": NaN}')
    assert r.status_code == 422, r.text
    assert ok(site.api.get(f"/api/v1/ledger/{ident}"))["self_reliance"] == "fully"


def test_the_history_lists_each_change_with_old_and_new(site: Site) -> None:
    w = site.world
    de, rev = w.headers("nmi", "data_entry"), w.headers("nmi", "reviewer")
    ident = _primary(site.api, w, "hist")
    ok(site.api.put(f"/api/v1/ledger/{ident}", headers=de, json={
        "domain": "mass", "self_reliance": "partly", "risk_notes": "one supplier"}), 201)
    entry = ok(site.api.put(f"/api/v1/ledger/{ident}", headers=rev, json={
        "domain": "mass", "status": "under_renovation", "self_reliance": "fully",
        "risk_notes": "one supplier", "actions": "domestic balance in trial"}))
    assert (entry["status"], entry["self_reliance"]) == ("under_renovation", "fully")
    before = _counts(site.engine)  # the same record again: nothing written
    ok(site.api.put(f"/api/v1/ledger/{ident}", headers=rev, json={
        "domain": "mass", "status": "under_renovation", "self_reliance": "fully",
        "risk_notes": "one supplier", "actions": "domestic balance in trial"}))
    assert _counts(site.engine) == before
    part = ok(site.api.post(f"/api/v1/ledger/{ident}/components", headers=de, json={
        "name": "mass comparator", "role": "compares the kilogram copies",
        "origin": "imported", "supplier": "Mettler", "supplier_country": "CH",
        "domestic_alternative": "no"}), 201)
    ok(site.api.put(f"/api/v1/ledger/{ident}/components/{part['id']}", headers=rev, json={
        "name": "mass comparator", "role": "compares the kilogram copies",
        "origin": "imported", "supplier": "Mettler", "supplier_country": "CH",
        "domestic_alternative": "in_development"}))
    history = ok(site.api.get(f"/api/v1/ledger/{ident}/history", headers=rev))
    assert [h["action"] for h in history] == [
        "ledger.profile.create", "ledger.profile.update", "ledger.component.create",
        "ledger.component.update"]
    assert [h["actor"] for h in history] == [w.usernames[("nmi", r)] for r in (
        "data_entry", "reviewer", "data_entry", "reviewer")]
    assert {"field": "self_reliance", "old": None, "new": "partly"} in history[0]["changes"]
    assert history[1]["changes"] == [
        {"field": "status", "old": "in_service", "new": "under_renovation"},
        {"field": "self_reliance", "old": "partly", "new": "fully"},
        {"field": "actions", "old": "", "new": "domestic balance in trial"}]
    assert history[3]["component_id"] == part["id"]
    assert history[3]["changes"] == [
        {"field": "domestic_alternative", "old": "no", "new": "in_development"}]
    assert all(h["at"] for h in history)
    # the holder's staff read it; another organisation's people do not
    ok(site.api.get(f"/api/v1/ledger/{ident}/history", headers=w.headers("nmi", "technician")))
    _refused(site, "GET", f"/ledger/{ident}/history", w.headers("prov", "admin"), 403)
    _refused(site, "GET", f"/ledger/{ident}/history", {}, 401)
    public = ok(site.api.get(f"/api/v1/ledger/{ident}"))
    assert public["components"][0]["domestic_alternative"] == "in_development"
    listed = ok(site.api.get("/api/v1/ledger", params={"limit": 200}))
    assert ident in {e["identifier"] for e in listed["items"]}
    # published national primary standards only: the seed, "bare" and this one
    assert listed["total"] == len(SEED) + 2
    pages = [ok(site.api.get("/api/v1/ledger", params={"offset": o, "limit": 4}))
             for o in (0, 4, 8)]
    assert [len(p["items"]) for p in pages] == [4, 4, 1]
    assert [e["identifier"] for p in pages for e in p["items"]] == \
        [e["identifier"] for e in listed["items"]]
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "NaN"}):
        assert site.api.get("/api/v1/ledger", params=bad).status_code == 422, bad
    assert site.api.get(f"/api/v1/ledger/{'x' * 65}").status_code == 422


def test_the_audit_trail_explains_every_ledger_row(site: Site) -> None:
    report = verify_audit(site.database_url, keys_dir=site.keys_dir)
    assert report.ok, report.model_dump()
    with site.engine.begin() as conn:  # a record changed behind the trail's back shows
        conn.execute(sa.text("UPDATE primary_standard_profile SET self_reliance = 'fully' "
                             "WHERE self_reliance = 'not'"))
    try:
        report = verify_audit(site.database_url, keys_dir=site.keys_dir)
        assert not report.ok
        assert {f.table for f in report.rows} == {"primary_standard_profile"}
    finally:
        with site.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE primary_standard_profile SET self_reliance = 'not' WHERE id IN "
                "(SELECT p.id FROM primary_standard_profile p JOIN standard s ON "
                "s.id = p.standard_id WHERE s.identifier IN (:a, :b))"),
                {"a": site.std["len4"], "b": site.std["tf1"]})
    assert verify_audit(site.database_url, keys_dir=site.keys_dir).ok


def test_the_ledger_page_shows_classes_components_and_the_chart(site: Site) -> None:
    agg = ok(site.api.get("/api/v1/ledger/aggregates"))
    length = next(row for row in agg["rows"] if row["domain"] == "length")
    r = site.api.get("/ledger", headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text
    doc = lxml_html.fromstring(r.text)
    row = doc.xpath(f"//table[contains(@class,'ledger')]//tr[.//a[text()='{site.std['len1']}']]")
    assert row, r.text[:2000]
    text = row[0].text_content()
    assert "Fully self-reliant" in text and "In service" in text
    assert "part 0" in text and "Imported" in text
    # the chart is well-formed SVG (parsed as XML), self-contained and labelled
    [source] = re.findall(r"<svg class=\"ledger-chart\" role=\"img\".*?</svg>", r.text,
                          flags=re.S)
    svg = etree.fromstring(source.encode())
    assert svg.tag == f"{SVG}svg" and svg.get("viewBox")
    assert svg.get("aria-labelledby") == "agg-title agg-desc"
    assert svg.find(f"{SVG}title").get("id") == "agg-title"
    assert "self-reliance" in svg.find(f"{SVG}title").text.lower()
    desc = svg.find(f"{SVG}desc").text
    assert (f"Length: total {length['total']}; fully self-reliant "
            f"{length['fully']['count']}, partly {length['partly']['count']}, not "
            f"{length['not']['count']}, suspended {length['suspended']['count']}") in desc
    assert f"In all: {agg['total']['total']} standards." in desc
    assert not [e for e in svg.iter() if any("href" in a for a in e.attrib)]
    bars = [e for e in svg.iter(f"{SVG}rect") if e.get("data-count")]
    assert sum(int(b.get("data-count")) for b in bars) == agg["total"]["total"]
    # lengths in proportion: every standard is the same width
    widths = {round(float(b.get("width")) / int(b.get("data-count")), 1) for b in bars}
    assert len(widths) == 1
    assert not [u for u in doc.xpath("//script/@src | //link/@href | //img/@src")
                if not u.startswith("/")]
    [table] = doc.xpath("//table[contains(@class,'ledger-aggregates')]")
    cells = [td.text_content().strip() for td in table.xpath(".//tr[th[text()='Length']]/td")]
    assert cells == [f"{length[c]['count']} ({length[c]['percent']} %)"
                     for c in ("fully", "partly", "not", "suspended")] + [
        str(length["total"]), f"{length['percent_of_all']} %"]
    [link] = doc.xpath("//a[@href='/api/v1/ledger/aggregates.csv']")
    assert link.get("download") is not None
    zh = site.api.get("/ledger", headers={"Accept": "text/html", "Cookie": "labctl_lang=zh"})
    assert "自主" in zh.text


def _page(site: Site, path: str, token: str) -> tuple[httpx.Response, str]:
    r = site.api.get(path, headers={"Accept": "text/html",
                                    "Cookie": f"labctl_session={token}"})
    found = re.search(r'name="csrf" value="([^"]+)"', r.text)
    return r, found.group(1) if found else ""


def _post_form(site: Site, path: str, token: str, csrf: str,
               data: dict[str, str]) -> httpx.Response:
    return site.api.post(path, data={"csrf": csrf, **data}, headers={
        "Accept": "text/html", "Origin": site.url, "Cookie": f"labctl_session={token}"})


def test_the_staff_form_edits_through_the_same_rules(site: Site) -> None:
    w = site.world
    ident = _primary(site.api, w, "form")
    path = f"/staff/ledger/{ident}"
    de = w.tokens[("nmi", "data_entry")]
    r, csrf = _page(site, path, de)
    assert r.status_code == 200 and csrf, r.text[:500]
    assert "Save the record first" in r.text
    # bad input: said by field, nothing written
    before = _counts(site.engine)
    bad = _post_form(site, path, de, csrf, {"domain": "astrology", "self_reliance": "fully"})
    assert bad.status_code == 422 and "form.domain" in bad.text
    # no CSRF value, or another person's: refused, nothing written
    assert _post_form(site, path, de, "", {"domain": "length",
                                           "self_reliance": "fully"}).status_code == 403
    assert _counts(site.engine) == before
    r = _post_form(site, path, de, csrf, {"domain": "length", "status": "in_service",
                                          "self_reliance": "partly", "risk_notes": "laser",
                                          "actions": ""})
    assert r.status_code == 303 and r.headers["location"] == f"{path}?done=record"
    r = _post_form(site, f"{path}/components", de, csrf, {
        "name": "iodine-stabilised laser", "role": "wavelength reference",
        "origin": "imported", "supplier": "Acme Photonics", "supplier_country": "us",
        "domestic_alternative": "in_development", "notes": ""})
    assert r.status_code == 303, r.text
    entry = ok(site.api.get(f"/api/v1/ledger/{ident}"))
    assert (entry["domain"], entry["self_reliance"], entry["risk_notes"]) == \
        ("length", "partly", "laser")
    [part] = entry["components"]
    assert (part["supplier_country"], part["domestic_alternative"]) == ("US", "in_development")
    r = _post_form(site, f"{path}/components/{part['id']}", de, csrf, {
        "name": "iodine-stabilised laser", "role": "wavelength reference",
        "origin": "imported", "supplier": "Acme Photonics", "supplier_country": "US",
        "domestic_alternative": "yes"})
    assert r.status_code == 303
    r, _ = _page(site, f"{path}?done=component", de)
    doc = lxml_html.fromstring(r.text)
    history = [[td.text_content().strip() for td in tr.xpath("td")]
               for tr in doc.xpath("//table[contains(@class,'ledger-history')]/tbody/tr")]
    assert [h[2:] for h in history[-1:]] == [
        [f"Domestic alternative (#{part['id']})", "a domestic alternative is in development",
         "a domestic alternative exists"]]
    assert {h[1] for h in history} == {w.usernames[("nmi", "data_entry")]}
    assert "The component is saved." in r.text
    # another institute's administrator: forms disabled with the reason, a forged POST 403
    other = w.tokens[("prov", "admin")]
    r, csrf_other = _page(site, path, other)
    assert r.status_code == 200
    doc = lxml_html.fromstring(r.text)
    assert doc.xpath("//p[@id='why-ledger']")
    buttons = doc.xpath("//form[starts-with(@action, '/staff/ledger/')]//button")
    assert buttons and all(b.get("disabled") is not None for b in buttons)
    assert "Only the holder's staff" in r.text
    before = _counts(site.engine)
    r = _post_form(site, path, other, csrf_other, {"domain": "mass", "self_reliance": "not"})
    assert r.status_code == 403
    assert _counts(site.engine) == before
    assert ok(site.api.get(f"/api/v1/ledger/{ident}"))["self_reliance"] == "partly"
    # the public ledger offers the edit link to the holder's staff only
    public, _ = _page(site, "/ledger", de)
    assert f'href="/staff/ledger/{ident}"' in public.text
    public, _ = _page(site, "/ledger", other)
    assert f'href="/staff/ledger/{ident}"' not in public.text


def test_percentages_round_half_up_to_one_decimal() -> None:
    from labctl.platform.registry.ledger import percent

    assert [percent(1, 2000), percent(1, 8), percent(1, 6), percent(2, 3), percent(3, 7),
            percent(0, 5), percent(5, 5), percent(0, 0)] == [
        "0.1", "12.5", "16.7", "66.7", "42.9", "0.0", "100.0", "0.0"]


def test_the_same_record_entered_at_once_is_created_once(site: Site) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = site.world
    ident = _primary(site.api, w, "race")
    bodies = [{"domain": "time-frequency", "self_reliance": c}
              for c in ("fully", "partly", "not", "fully")]

    def put(body: dict[str, str]) -> int:
        with httpx.Client(base_url=site.url, timeout=60) as c:
            return c.put(f"/api/v1/ledger/{ident}", json=body,
                         headers=w.headers("nmi", "data_entry")).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(put, bodies))
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    history = ok(site.api.get(f"/api/v1/ledger/{ident}/history",
                              headers=w.headers("nmi", "data_entry")))
    actions = [h["action"] for h in history]
    assert actions == ["ledger.profile.create"] + ["ledger.profile.update"] * (len(actions) - 1)
    # the stored class is the last one the history says was written
    written = [ch["new"] for h in history for ch in h["changes"]
               if ch["field"] == "self_reliance"]
    assert ok(site.api.get(f"/api/v1/ledger/{ident}"))["self_reliance"] == written[-1]
    assert verify_audit(site.database_url, keys_dir=site.keys_dir).ok
