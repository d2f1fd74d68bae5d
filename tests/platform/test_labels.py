"""Status labels (ISO/IEC 17025 6.4.8) and a standard's restrictions, through the live API:
the PDF read back with pypdf, label by label (text grouped by its position on the sheet),
and the drawing colour of the words that say an item must not be used."""

from __future__ import annotations

import io
import re
import secrets
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pypdf
import pytest
import sqlalchemy as sa

from labctl.platform.documents.labels import LAYOUTS, Label, cjk_face, label_sheet_pdf
from tests.fixtures.db import World, build_world
from tests.platform.helpers import ok, publish_standard, record_calibration, uid

MM = 72 / 25.4
# the module's world is built through the API in the first test's set-up: a wider bound
pytestmark = pytest.mark.timeout(180)
RED_FILL = re.compile(rb"0\.78\d* 0 0 rg")  # (200, 0, 0) as fpdf2 writes the text colour


@pytest.fixture(scope="module")
def lw(platform_url: str, db_engine: sa.Engine) -> World:
    return build_world(platform_url, db_engine, "L" + secrets.token_hex(2).upper())


def labels_by_cell(pdf: bytes, layout: str = "3x8") -> dict[tuple[int, int, int], str]:
    """The text of each label, keyed by (page, row, column) from where it is drawn."""
    sheet = LAYOUTS[layout]
    cells: dict[tuple[int, int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for p, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf)).pages):
        height = float(page.mediabox.height)

        def visit(text: str, cm: Any, tm: Any, *_: Any, p: int = p, height: float = height
                  ) -> None:
            if not text.strip():
                return
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            x_mm, y_mm = x / MM, (height - y) / MM
            col = int((x_mm - sheet.left) // (sheet.width + sheet.gap_x))
            row = int((y_mm - sheet.top) // (sheet.height + sheet.gap_y))
            cells[(p, row, col)].append((y_mm, x_mm, text))

        page.extract_text(visitor_text=visit)
    return {k: " ".join(t for _, _, t in sorted(v)) for k, v in cells.items()}


def label_of(cells: dict[tuple[int, int, int], str], identifier: str) -> str:
    found = [text for text in cells.values() if identifier in text]
    assert len(found) == 1, (identifier, cells)
    return re.sub(r"\s+", " ", found[0])


def page_streams(pdf: bytes) -> list[bytes]:
    return [page.get_contents().get_data()  # type: ignore[union-attr]
            for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def lab_standards(api_module: httpx.Client, lw: World) -> dict[str, str]:
    """In the lab: a calibrated standard with restrictions (set through the edit of a
    draft), a quarantined one, an overdue one."""
    api = api_module
    today = datetime.now(UTC).date()
    ids = {}
    # restrictions through the review workflow's edit path: draft → edit → submit → publish
    ident = uid("LBL-DMM")
    body = {"identifier": ident, "kind": "working", "description": "Digital multimeter 8½",
            "manufacturer": "Keysight", "model": "3458A", "domain": "electrical DC",
            "quantity": "DC voltage", "unit": "V", "range_min": "0.1", "range_max": "1000",
            "uncertainty_relative": "0.00001", "organisation_code": lw.orgs["lab"]}
    ok(api.post("/api/v1/standards", json=body, headers=lw.headers("lab", "data_entry")), 201)
    edited = ok(api.patch(f"/api/v1/standards/{ident}", json={
        "reason": "limits of use from the last calibration",
        "restrictions": "not for use below 1 V"}, headers=lw.headers("lab", "data_entry")))
    assert edited["restrictions"] == "not for use below 1 V"
    ok(api.post(f"/api/v1/standards/{ident}/submit", headers=lw.headers("lab", "data_entry")))
    ok(api.post(f"/api/v1/standards/{ident}/review", json={"approve": True},
                headers=lw.headers("lab", "reviewer")))
    record_calibration(api, lw, "lab", ident, {
        "certificate_number": uid("EXT"), "issuer": "Outside Lab",
        "calibrated_on": (today - timedelta(days=30)).isoformat(),
        "due_date": (today + timedelta(days=335)).isoformat()})
    ids["ok"] = ident
    ids["quarantined"] = publish_standard(api, lw, "lab", description="Zener reference Q")[
        "identifier"]
    ok(api.post(f"/api/v1/standards/{ids['quarantined']}/status", json={
        "status": "quarantined", "reason": "dropped on the floor"},
        headers=lw.headers("lab", "reviewer")))
    ids["investigated"] = publish_standard(api, lw, "lab", description="Zener reference I")[
        "identifier"]
    ok(api.post(f"/api/v1/standards/{ids['investigated']}/status", json={
        "status": "under_investigation", "reason": "a check left its control limits"},
        headers=lw.headers("lab", "reviewer")))
    ids["overdue"] = publish_standard(api, lw, "lab", description="Zener reference O")[
        "identifier"]
    record_calibration(api, lw, "lab", ids["overdue"], {
        "certificate_number": uid("EXT"), "issuer": "Outside Lab",
        "calibrated_on": (today - timedelta(days=400)).isoformat(),
        "due_date": (today - timedelta(days=35)).isoformat()})
    ids["other_lab"] = publish_standard(api, lw, "prov")["identifier"]
    return ids


@pytest.fixture(scope="module")
def api_module(platform_url: str) -> Any:
    with httpx.Client(base_url=platform_url, timeout=30) as client:
        yield client


def _labels(api: httpx.Client, lw: World, role: str = "technician", org: str = "lab",
            **params: Any) -> httpx.Response:
    return api.get(f"/api/v1/laboratories/{lw.orgs['lab']}/labels.pdf", params=params,
                   headers=lw.headers(org, role))


def test_each_label_states_identifier_status_dates_restrictions_lab(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str]) -> None:
    resp = _labels(api_module, lw)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    cells = labels_by_cell(resp.content)
    today = datetime.now(UTC).date()
    fine = label_of(cells, lab_standards["ok"])
    assert "Digital multimeter 8½" in fine
    assert "Status: In service" in fine
    assert f"Calibrated: {(today - timedelta(days=30)).isoformat()}" in fine
    assert f"Due: {(today + timedelta(days=335)).isoformat()}" in fine
    assert "Restrictions: not for use below 1 V" in fine
    assert f"{lw.orgs['lab'].removesuffix('LAB')} Calibration Lab" in fine  # the lab's name
    assert "DO NOT USE" not in fine
    quarantined = label_of(cells, lab_standards["quarantined"])
    assert "QUARANTINED — DO NOT USE" in quarantined
    investigated = label_of(cells, lab_standards["investigated"])
    assert "UNDER INVESTIGATION — CHECK BEFORE USE" in investigated
    only = labels_by_cell(_labels(api_module, lw, status=["under_investigation"]).content)
    assert len(only) == 1 and lab_standards["investigated"] in next(iter(only.values()))
    assert "Status: In service" not in quarantined
    assert "Calibrated: —" in quarantined  # never calibrated: said, not left blank
    overdue = label_of(cells, lab_standards["overdue"])
    assert "CALIBRATION OVERDUE — DO NOT USE" in overdue
    assert f"Due: {(today - timedelta(days=35)).isoformat()}" in overdue
    assert lab_standards["other_lab"] not in " ".join(cells.values())


def test_red_only_where_an_item_must_not_be_used(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str]) -> None:
    fine = _labels(api_module, lw, identifier=[lab_standards["ok"]])
    assert fine.status_code == 200, fine.text
    assert len(labels_by_cell(fine.content)) == 1
    assert not any(RED_FILL.search(s) for s in page_streams(fine.content))
    held = _labels(api_module, lw, identifier=[lab_standards["quarantined"]])
    assert held.status_code == 200, held.text
    stream = page_streams(held.content)[0]
    red = RED_FILL.search(stream)
    assert red is not None
    # the warning is drawn while the red fill is in force (before the colour goes back)
    after = stream[red.end():]
    back = re.search(rb"\n0 g|\b0(\.000)? 0(\.000)? 0(\.000)? rg", after)
    drawn = after[:back.start() if back else len(after)]
    assert b"Tj" in drawn or b"TJ" in drawn


def test_status_filter_and_layout(api_module: httpx.Client, lw: World,
                                  lab_standards: dict[str, str]) -> None:
    resp = _labels(api_module, lw, status=["quarantined", "overdue"], layout="2x7")
    assert resp.status_code == 200, resp.text
    cells = labels_by_cell(resp.content, "2x7")
    text = " ".join(cells.values())
    assert lab_standards["quarantined"] in text and lab_standards["overdue"] in text
    assert lab_standards["ok"] not in text
    assert all(col < 2 for _, _, col in cells)


def test_other_organisations_customers_and_anonymous_are_refused(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str]) -> None:
    for org, role in (("prov", "technician"), ("nmi", "reviewer")):
        resp = _labels(api_module, lw, role=role, org=org)
        assert resp.status_code == 403, resp.text
        assert resp.json()["rule"] == "organisation"
    cust = api_module.get(f"/api/v1/laboratories/{lw.orgs['lab']}/labels.pdf",
                          headers=lw.headers("cust", "customer"))
    assert cust.status_code == 403
    anon = api_module.get(f"/api/v1/laboratories/{lw.orgs['lab']}/labels.pdf")
    assert anon.status_code == 401
    # an administrator above the laboratory may print them
    assert _labels(api_module, lw, role="admin", org="prov").status_code == 200


def test_unknown_or_foreign_identifier_is_a_404_naming_it(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str]) -> None:
    for ident in ("NO-SUCH-STD-1", lab_standards["other_lab"]):
        resp = _labels(api_module, lw, identifier=[lab_standards["ok"], ident])
        assert resp.status_code == 404, resp.text
        assert ident in resp.json()["detail"]
    bad = _labels(api_module, lw, status=["broken"])
    assert bad.status_code == 422
    assert "status" in bad.text
    assert _labels(api_module, lw, layout="9x9").status_code == 422
    assert api_module.get("/api/v1/laboratories/NOPE-LAB/labels.pdf",
                          headers=lw.headers("lab", "technician")).status_code == 404


def test_restrictions_shown_and_only_standards_take_them(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str]) -> None:
    ident = lab_standards["ok"]
    assert ok(api_module.get(f"/api/v1/standards/{ident}"))["restrictions"] == \
        "not for use below 1 V"
    page = api_module.get(f"/standards/{ident}")
    assert page.status_code == 200
    assert "not for use below 1 V" in page.text
    cmc = ok(api_module.post("/api/v1/capabilities", json={
        "organisation_code": lw.orgs["lab"], "domain": "electrical DC",
        "quantity": "DC voltage", "unit": "V", "range_min": "1", "range_max": "10",
        "uncertainty_relative": "0.00001"}, headers=lw.headers("lab", "data_entry")), 201)
    refused = api_module.patch(f"/api/v1/capabilities/{cmc['id']}", json={
        "reason": "x", "restrictions": "not below 1 V"}, headers=lw.headers("lab", "data_entry"))
    assert refused.status_code == 422
    assert refused.json()["field"] == "restrictions"
    too_long = api_module.post("/api/v1/standards", json={
        "identifier": uid("LBL-LONG"), "kind": "working", "description": "x",
        "domain": "electrical DC", "quantity": "DC voltage", "unit": "V", "range_min": "0",
        "range_max": "1", "organisation_code": lw.orgs["lab"], "restrictions": "x" * 301},
        headers=lw.headers("lab", "data_entry"))
    assert too_long.status_code == 422


def test_sheets_continue_on_new_pages_and_refuse_nothing_to_print() -> None:
    labels = [Label(f"ID-{i:03d}", "Thermometer", "in_service", date(2026, 1, 1),
                    date(2027, 1, 1), "", "Lab", f"https://x.test/standards/ID-{i:03d}")
              for i in range(25)]
    pdf = label_sheet_pdf(labels)
    cells = labels_by_cell(pdf)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 2
    assert cells[(1, 0, 0)].startswith("ID-024") or "ID-024" in cells[(1, 0, 0)]
    assert "ID-023" in cells[(0, 7, 2)]
    with pytest.raises(ValueError, match="labels"):
        label_sheet_pdf([])
    with pytest.raises(ValueError, match="layout"):
        label_sheet_pdf(labels, layout="A0")


def test_staff_standards_page_prints_the_labels_by_the_same_rule(
        platform_url: str, lw: World, lab_standards: dict[str, str]) -> None:
    from labctl.platform.pages.session import SESSION_COOKIE

    def client(org: str, role: str) -> httpx.Client:
        return httpx.Client(base_url=platform_url, timeout=30,
                            cookies={SESSION_COOKIE: lw.tokens[(org, role)]})

    with client("lab", "technician") as c:
        page = c.get("/staff/standards")
        assert page.status_code == 200
        assert 'id="print-labels"' in page.text
        assert f'value="{lw.orgs["lab"]}"' in page.text
        pdf = c.get("/staff/labels.pdf", params={"laboratory": lw.orgs["lab"],
                                                 "show": "quarantined"})
        assert pdf.status_code == 200, pdf.text
        text = " ".join(labels_by_cell(pdf.content).values())
        assert lab_standards["quarantined"] in text and lab_standards["ok"] not in text
        zh = c.get("/staff/standards", headers={"Accept-Language": "zh"})
        assert "打印状态标签（PDF）" in zh.text and "Print status labels" not in zh.text
        staff = c.get(f"/staff/standards/{lab_standards['ok']}")
        assert "not for use below 1 V" in staff.text
    with client("prov", "technician") as c:
        refused = c.get("/staff/labels.pdf", params={"laboratory": lw.orgs["lab"]})
        assert refused.status_code == 403
        assert "application/pdf" not in refused.headers.get("content-type", "")


def test_the_qr_code_encodes_the_standards_public_page(
        api_module: httpx.Client, lw: World, lab_standards: dict[str, str],
        platform_settings: Any) -> None:
    import segno

    ident = lab_standards["ok"]
    resp = _labels(api_module, lw, identifier=[ident])
    assert resp.status_code == 200, resp.text
    stream = page_streams(resp.content)[0].decode("latin-1")
    drawn = re.search(r"q 0 g [-\d. ]+ cm\n(.*?)\nf Q", stream, re.S)
    assert drawn is not None
    modules = {tuple(int(v) for v in m.split()[:3])
               for m in drawn.group(1).splitlines()}
    url = f"{platform_settings.public_url}/standards/{ident}"
    expected = set()
    for r, row in enumerate(segno.make(url, error="m", micro=False, mask=2).matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                expected.add((start, r, c - start))
            else:
                c += 1
    assert modules == expected
    assert api_module.get(f"/standards/{ident}").status_code == 200  # the page it opens


@pytest.mark.skipif(cjk_face() is None, reason="no CJK face installed (fonts-wqy-microhei)")
def test_chinese_names_print_in_the_cjk_face(api_module: httpx.Client, lw: World,
                                             lab_standards: dict[str, str]) -> None:
    ident = publish_standard(api_module, lw, "lab", description="数字多用表 8½ 位（直流电压）",
                             restrictions="不得用于 1 V 以下")["identifier"]
    resp = _labels(api_module, lw, identifier=[ident])
    assert resp.status_code == 200, resp.text
    text = label_of(labels_by_cell(resp.content), ident)
    # (the text runs of one line come back per face, not always in their order on the line)
    for piece in ("数字多用表", "位（直流电压）", "不得用于", "以下"):
        assert piece in text
    fonts = {str(f) for page in pypdf.PdfReader(io.BytesIO(resp.content)).pages
             for f in page["/Resources"]["/Font"].values()}  # type: ignore[index]
    assert len(fonts) >= 2  # DejaVu for the Latin text, the CJK face for the Chinese


def test_characters_no_face_has_are_refused_naming_them() -> None:
    label = Label("ID-1", "Linear B \U00010000", "in_service", None, None, "", "Lab",
                  "https://x.test/standards/ID-1")
    with pytest.raises(ValueError, match="U\\+10000"):
        label_sheet_pdf([label])
