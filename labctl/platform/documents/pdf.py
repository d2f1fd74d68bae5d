"""The PDF calibration certificate (ISO/IEC 17025:2017 7.8), rendered with fpdf2.

Layout (A4 portrait): every page carries the laboratory, the certificate number and
revision in the header and "Page x of y" with the reproduction notice in the footer. Page 1
starts with the administrative block (customer, item, method, dates, place) next to the QR
code that opens the verification page, then the amendment notice for a revision > 0,
the results tables (nominal, reference, indicated value, error, U, k, p, limits,
conformity), the measurement conditions, the standards used with their certificates, the
traceability and uncertainty statements, the decision rule, remarks, and the signatories.

Text uses the DejaVu Sans faces shipped in ``fonts/`` (µ, Ω, °, ±, ≤ print everywhere).
Numbers are printed from the model's Decimals digit for digit, exactly as in the DCC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from labctl.platform.documents._fonts import FAMILY, install_fonts, output_pdf
from labctl.platform.documents._format import (
    CONFORMITY_TEXT,
    dcc_conformity,
    plain,
    print_unit,
    worst_verdict,
)
from labctl.platform.documents.checks import check_document
from labctl.platform.documents.dcc import (
    UNCERTAINTY_STATEMENT,
    VALIDITY_STATEMENT,
    labctl_release,
)
from labctl.platform.documents.model import CertificateDocument, ResultPoint, ResultTable

ACCENT = (0, 60, 110)  # dark blue for rules and headings
GREY_FILL = (232, 236, 241)
TEXT_GREY = (90, 90, 90)
MARGIN = 15.0  # mm
QR_SIZE = 30.0  # mm; a 30 mm module field scans reliably from a printed page


def _fmt(value: Decimal | None, field: str) -> str:
    return "" if value is None else plain(value, field=field)


def _fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def _strings(obj: object) -> Iterator[str]:
    """Every string inside the document (to pick fonts that can print all of them)."""
    if isinstance(obj, str):
        yield obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _strings(getattr(obj, f.name))
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from _strings(item)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)


#: Units a certificate states with an SI prefix chosen per range (100 mV range in mV).
_PREFIXABLE = frozenset({"V", "A", "Ω", "W", "Hz"})
_NUMERIC = ("nominal", "reference_value", "measured_value", "error", "expanded_uncertainty",
            "lower_limit", "upper_limit")


def _range_scales(points: tuple[ResultPoint, ...]) -> dict[str, tuple[str, int]]:
    """Per range label, the SI prefix and power of ten its rows are printed in.

    Chosen from the largest nominal of the range, so one range reads in one unit (its zero
    point included) and small values keep few digits: 0.00000028 V reads 0.00028 mV.
    """
    groups: dict[str, list[ResultPoint]] = {}
    for p in points:
        groups.setdefault(p.range_label, []).append(p)
    scales: dict[str, tuple[str, int]] = {}
    for label, pts in groups.items():
        big = max(abs(p.nominal) for p in pts) or max(abs(p.reference_value) for p in pts)
        if pts[0].unit not in _PREFIXABLE or big == 0 or big >= 1:
            scales[label] = ("", 0)
        elif big >= Decimal("0.001"):
            scales[label] = ("m", 3)
        else:
            scales[label] = ("µ", 6)
    return scales


def _scaled(p: ResultPoint, power: int) -> ResultPoint:
    """``p`` with its values in the prefixed unit (exact: Decimal scaling, no rounding)."""
    if power == 0:
        return p
    return dataclasses.replace(p, **{
        name: getattr(p, name).scaleb(power) for name in _NUMERIC
        if getattr(p, name) is not None})


def _limits(p: ResultPoint, field: str) -> str:
    lo, hi = p.lower_limit, p.upper_limit
    if lo is None and hi is None:
        return "–"
    if lo is not None and hi is not None and lo == -hi:
        return "±" + plain(hi, field=f"{field}.upper_limit")
    return f"{_fmt(lo, field) or '–'} … {_fmt(hi, field) or '–'}"


class _CertificatePdf(FPDF):
    """FPDF with the certificate's running header and footer."""

    def __init__(self, doc: CertificateDocument) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc = doc
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=22)
        self.alias_nb_pages("{nb}")

    # fpdf2 calls these on every page; put() instead of cell() keeps them cheap.
    def rule_under_header(self) -> None:
        """The accent rule that closes the running header; the body starts below it."""
        y = MARGIN + 14
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.5)
        self.line(MARGIN, y, self.w - MARGIN, y)
        self.set_line_width(0.2)
        self.set_text_color(0, 0, 0)
        self.set_xy(MARGIN, y + 3)

    def footer_rule(self) -> tuple[float, float]:
        """The rule that opens the running footer, the footer's small grey type set; its
        width and the y of its first line."""
        self.set_y(-17)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.2)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.ln(1.2)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(*TEXT_GREY)
        return self.w - 2 * MARGIN, self.get_y()

    def header(self) -> None:
        doc = self.doc
        left, right = MARGIN, self.w - MARGIN - 70
        self.set_text_color(*ACCENT)
        self.set_font(FAMILY, "B", 11)
        self.put(left, MARGIN, 120, 5.5, doc.laboratory.name)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*TEXT_GREY)
        address = ", ".join(line.strip() for line in doc.laboratory.address.splitlines()
                            if line.strip())
        self.put(left, MARGIN + 5.5, 120, 3.8, address)
        contact = "  ·  ".join(x for x in (
            doc.laboratory.email,
            f"Accreditation {doc.laboratory.identifier}" if doc.laboratory.identifier else "",
        ) if x)
        self.put(left, MARGIN + 9.3, 120, 3.8, contact)
        # Right block: the identification that ISO/IEC 17025 7.8.2.1 b) wants on every page.
        self.put(right, MARGIN, 70, 4, "Certificate number", "R")
        self.set_font(FAMILY, "B", 11)
        self.set_text_color(0, 0, 0)
        self.put(right, MARGIN + 4, 70, 5.5, doc.number, "R")
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*TEXT_GREY)
        self.put(right, MARGIN + 9.5, 70, 3.8,
                 f"Revision {doc.revision}  ·  issued {_fmt_date(doc.issue_date)}", "R")
        self.rule_under_header()

    def footer(self) -> None:
        doc = self.doc
        width, y = self.footer_rule()
        self.put(MARGIN, y, width / 2, 3.6, f"{doc.title} {doc.number}, revision {doc.revision}")
        self.set_font(FAMILY, "B", 7.5)
        self.set_text_color(0, 0, 0)
        # cell(), not put(): only fpdf2's own text path right-aligns the "{nb}" alias correctly.
        self.set_xy(MARGIN + width / 2, y)
        self.cell(width / 2, 3.6, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_font(FAMILY, "", 6.5)
        self.set_text_color(*TEXT_GREY)
        self.put(MARGIN, y + 3.6, width, 3, "This certificate shall not be reproduced except in "
                 "full without the written approval of the issuing laboratory. "
                 f"Generated by labctl {labctl_release()}.")
        self.set_text_color(0, 0, 0)

    # --- building blocks ----------------------------------------------------------------
    # fpdf2's multi_cell/table re-measure text glyph by glyph on every line-break attempt,
    # which made layout most of a PDF's cost. Words are measured once here and lines are
    # set with put() (FPDF.text()).

    @property
    def epw_(self) -> float:
        return self.w - 2 * MARGIN

    def measure(self, text: str) -> float:
        """Width of ``text`` in mm in the current font (what get_string_width returns, minus
        fpdf2's per-call style machinery, which dominated layout time)."""
        font: Any = self.current_font
        size_pt = self.font_size_pt
        font.biggest_size_pt = max(font.biggest_size_pt, size_pt)
        cw = font.cw
        return float(sum(cw[ord(ch)] for ch in text) * size_pt * 0.001 / self.k)

    def put(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """One line of ``text`` in the box (x, y, w, h), placed like cell() places it."""
        if not text:
            return
        if align == "R":
            dx = w - self.c_margin - self.measure(text)
        elif align == "C":
            dx = (w - self.measure(text)) / 2
        else:
            dx = self.c_margin
        # Same baseline as fpdf2's cell(): half the box height plus 0.3 of the font size.
        self.text(x + dx, y + 0.5 * h + 0.3 * self.font_size, text)

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines no wider than ``width`` mm in the current font."""
        lines: list[str] = []
        # Lines are set with put(), which indents by the cell margin on both sides.
        width -= 2 * self.c_margin
        space = self.measure(" ")
        for paragraph in text.split("\n"):
            words = paragraph.split()
            if not words:
                lines.append("")
                continue
            line, line_w = "", 0.0
            for word in words:
                word_w = self.measure(word)
                while word_w > width and len(word) > 1:  # a word wider than the column
                    if line:
                        lines.append(line)
                        line, line_w = "", 0.0
                    cut = len(word) - 1
                    while cut > 1 and self.measure(word[:cut]) > width:
                        cut -= 1
                    lines.append(word[:cut])
                    word = word[cut:]
                    word_w = self.measure(word)
                if not line:
                    line, line_w = word, word_w
                elif line_w + space + word_w <= width:
                    line, line_w = f"{line} {word}", line_w + space + word_w
                else:
                    lines.append(line)
                    line, line_w = word, word_w
            lines.append(line)
        return lines

    def text_block(self, x: float, width: float, text: str, line_h: float,
                   align: str = "L") -> float:
        """Write wrapped ``text`` at ``x`` from the current y; returns the y below it."""
        y = self.get_y()
        for line in self.wrap(text, width):
            if y + line_h > self.page_break_trigger:
                self.add_page()
                y = self.get_y()
            self.put(x, y, width, line_h, line, align)
            y += line_h
        self.set_y(y)
        return y

    def grid(self, headings: list[str], rows: list[list[str]], widths: list[float],
             aligns: list[str], *, size: float = 7.5, zebra: bool = True) -> None:
        """A table with a coloured heading row repeated after page breaks, rows kept whole."""
        pad_y, line_h = 0.9, size * 0.45  # horizontal padding is put()'s cell margin

        def draw_row(cells: list[str], heading: bool, fill: bool) -> None:
            self.set_font(FAMILY, "B" if heading else "", size)
            # Numbers (right-aligned data cells) are never broken across lines: a number too
            # wide for its column is set smaller instead.
            wrapped = [[c] if not heading and a == "RIGHT" else self.wrap(c, w)
                       for c, w, a in zip(cells, widths, aligns, strict=True)]
            height = max(len(lines) for lines in wrapped) * line_h + 2 * pad_y
            if not heading and self.will_page_break(height):
                self.add_page()
                draw_row(headings, True, False)
                self.set_font(FAMILY, "", size)  # the heading row and page header changed it
            x, y = MARGIN, self.get_y()
            if heading or fill:
                self.set_fill_color(*(ACCENT if heading else GREY_FILL))
                self.rect(x, y, sum(widths), height, style="F")
            self.set_text_color(*((255, 255, 255) if heading else (0, 0, 0)))
            for lines, w, align in zip(wrapped, widths, aligns, strict=True):
                # Headings hang from the top; data cells sit centred in a taller row.
                spare = height - 2 * pad_y - len(lines) * line_h
                top = y + pad_y + (0 if heading else spare / 2)
                for k, line in enumerate(lines):
                    fitted = size
                    while (not heading and align == "RIGHT" and fitted > 5
                           and self.measure(line) > w - 2 * self.c_margin):
                        fitted -= 0.25
                        self.set_font_size(fitted)
                    self.put(x, top + k * line_h, w, line_h, line, align[0])
                    if fitted != size:
                        self.set_font_size(size)
                x += w
            self.set_text_color(0, 0, 0)
            self.set_draw_color(*(ACCENT if heading else (190, 190, 190)))
            self.line(MARGIN, y + height, MARGIN + sum(widths), y + height)
            self.set_xy(MARGIN, y + height)

        if self.will_page_break(12):
            self.add_page()
        draw_row(headings, True, False)
        for i, cells in enumerate(rows):
            draw_row(cells, False, zebra and i % 2 == 1)
        self.set_draw_color(0, 0, 0)

    def heading(self, text: str) -> None:
        # Keep a heading with at least a few lines of what follows.
        if self.will_page_break(18):
            self.add_page()
        self.ln(2.5)
        self.set_font(FAMILY, "B", 10)
        self.set_text_color(*ACCENT)
        self.cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.set_font(FAMILY, "", 8.5)

    def paragraph(self, text: str, *, size: float = 8.5, style: str = "") -> None:
        self.set_font(FAMILY, style, size)
        line_h = size * 0.47
        lines = self.wrap(text, self.epw_)
        if self.will_page_break(min(len(lines), 3) * line_h):
            self.add_page()
        y = self.get_y()
        for line in lines:
            if y + line_h > self.page_break_trigger:
                self.add_page()
                y = self.get_y()
            self.put(MARGIN, y, self.epw_, line_h, line)
            y += line_h
        self.set_xy(MARGIN, y + 0.8)

    def key_values(self, rows: list[tuple[str, str]], width: float, key_width: float = 40
                   ) -> None:
        for key, value in rows:
            if not value:
                continue
            y = self.get_y()
            self.set_font(FAMILY, "", 7.5)
            self.set_text_color(*TEXT_GREY)
            self.put(MARGIN, y + 0.35, key_width, 4.0, key)
            self.set_text_color(0, 0, 0)
            self.set_font(FAMILY, "", 8.5)
            self.set_y(y)
            end = self.text_block(MARGIN + key_width, width - key_width, value, 4.3)
            self.set_y(end + 0.6)


def _qr_matrix(url: str) -> tuple[bytearray, ...]:
    """The QR symbol of ``url``, row by row, 1 for a dark module."""
    # A fixed mask pattern: every one of the eight is valid for readers, and the search for
    # the "best" (segno evaluates all eight) cost a tenth of a certificate's render time.
    qr = segno.make(url, error="m", micro=False, mask=2)
    return tuple(qr.matrix)


def draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` as vector squares, ``size`` mm wide, top left at (x, y).

    Vector modules print sharp at any resolution and cost a tenth of a PNG (segno writing
    it, fpdf2 decoding it again). One path in module units under one transformation: the
    squares abut exactly, so no viewer shows seams between them.
    """
    matrix = _qr_matrix(url)
    n = len(matrix)
    k, module = pdf.k, size / n
    runs = []
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                runs.append(f"{start} {r} {c - start} 1 re")
            else:
                c += 1
    # (0, 0) at the symbol's top left, one unit per module, y downwards like the matrix.
    place = (f"{module * k:.5f} 0 0 {-module * k:.5f} {x * k:.3f} {(pdf.h - y) * k:.3f} cm")
    with pdf._marked_sequence(alt_text=f"QR code: {url}"):  # as image(alt_text=...) marks it
        pdf._out(f"q 0 g {place}\n" + "\n".join(runs) + "\nf Q")


def _administrative(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    pdf.set_font(FAMILY, "B", 17)
    pdf.cell(0, 9, doc.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    top = pdf.get_y()
    # QR code on the right of the administrative block, with the address written out for
    # readers without a phone (ISO/IEC 17025 does not require it; customers ask for it).
    qr_x = pdf.w - MARGIN - QR_SIZE
    draw_qr(pdf, doc.verification_url, qr_x, top, QR_SIZE)
    pdf.set_y(top + QR_SIZE + 1)
    pdf.set_font(FAMILY, "", 6)
    pdf.set_text_color(*TEXT_GREY)
    pdf.text_block(qr_x - 8, QR_SIZE + 8, f"Verify this certificate: {doc.verification_url}",
                   2.6, align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(MARGIN, top)

    customer = "\n".join([doc.customer.name, *[ln.strip() for ln in
                                               doc.customer.address.splitlines() if ln.strip()]])
    if doc.customer.identifier:
        customer += f"\nCustomer number {doc.customer.identifier}"
    item = doc.item
    if doc.calibration_begin.date() == doc.calibration_end.date():
        performed = _fmt_date(doc.calibration_begin)
    else:
        performed = f"{_fmt_date(doc.calibration_begin)} to {_fmt_date(doc.calibration_end)}"
    rows = [
        ("Customer", customer),
        ("Item", item.description),
        ("Manufacturer", item.manufacturer),
        ("Model / type", item.model),
        ("Serial number", item.serial_number),
        ("Asset number", item.identifier),
        ("Condition on receipt", item.condition_on_receipt),
        ("Calibration method", doc.method),
        ("Date of receipt", _fmt_date(doc.receipt_date) if doc.receipt_date else ""),
        ("Date of calibration", performed),
        ("Date of issue", _fmt_date(doc.issue_date)),
        ("Place of calibration", doc.location),
        *[(k, v) for k, v in doc.extra.items()],
    ]
    pdf.key_values(rows, width=pdf.epw_ - QR_SIZE - 12)
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE + 9))


def _amendment(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    if doc.revision == 0:
        return
    pdf.ln(1.5)
    pdf.set_fill_color(253, 243, 224)
    pdf.set_draw_color(200, 120, 0)
    pdf.set_font(FAMILY, "B", 8.5)
    text = (f"Amended certificate (revision {doc.revision}). This certificate replaces "
            f"{doc.replaces} because {doc.amendment_reason}. The replaced certificate is "
            "withdrawn and shall no longer be used.")
    lines = pdf.wrap(text, pdf.epw_ - 4)
    top = pdf.get_y()
    pdf.rect(MARGIN, top, pdf.epw_, len(lines) * 4.4 + 4, style="DF")
    pdf.set_y(top + 2)
    pdf.text_block(MARGIN + 2, pdf.epw_ - 4, text, 4.4)
    pdf.set_y(top + len(lines) * 4.4 + 4)
    pdf.set_draw_color(0, 0, 0)
    pdf.ln(1)


def _results_table(pdf: _CertificatePdf, table: ResultTable, t: int) -> None:
    pdf.heading(table.title)
    points = table.points
    show_p = len({p.coverage_probability for p in points}) > 1
    show_conf = any(p.conformity is not None or p.lower_limit is not None
                    or p.upper_limit is not None for p in points)
    headings = ["Range", "Nominal", "Unit", "Reference value", "Indicated value", "Error",
                "U", "k"]
    widths = [21.0, 15.0, 9.0, 23.0, 23.0, 20.0, 17.0, 10.0]
    aligns = ["LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"]
    if show_p:
        headings.append("p")
        widths.append(9.0)
        aligns.append("RIGHT")
    if show_conf:
        headings += ["Limits", "Conformity"]
        widths += [21.0, 22.0]
        aligns += ["RIGHT", "CENTER"]
    scale = pdf.epw_ / sum(widths)
    widths = [w * scale for w in widths]
    rows = []
    scales = _range_scales(points)
    for i, point in enumerate(points):
        field = f"results[{t}].points[{i}]"
        prefix, power = scales[point.range_label]
        p = _scaled(point, power)
        cells = [
            p.range_label or "–",
            plain(p.nominal, field=f"{field}.nominal"),
            prefix + print_unit(p.unit),
            plain(p.reference_value, field=f"{field}.reference_value"),
            plain(p.measured_value, field=f"{field}.measured_value"),
            plain(p.error, field=f"{field}.error"),
            plain(p.expanded_uncertainty, field=f"{field}.expanded_uncertainty"),
            plain(p.coverage_factor, field=f"{field}.coverage_factor"),
        ]
        if show_p:
            cells.append(plain(p.coverage_probability, field=f"{field}.coverage_probability"))
        if show_conf:
            verdict = (CONFORMITY_TEXT[dcc_conformity(p.conformity, field=field)]
                       if p.conformity else "–")
            cells += [_limits(p, field), verdict]
        rows.append(cells)
    pdf.grid(headings, rows, widths, aligns)
    notes = []
    if not show_p:
        prob = points[0].coverage_probability
        percent = plain((prob * 100).normalize(), field="coverage_probability")
        notes.append(f"U: expanded uncertainty of the error with coverage factor k, for a "
                     f"coverage probability of approximately {percent} %.")
    if show_conf:
        notes.append("Limits: acceptance limits of the error from the specification. "
                     "Conformity: per the decision rule stated below.")
    if table.note:
        notes.append(table.note)
    pdf.ln(1)
    for note in notes:
        pdf.paragraph(note, size=7)


def _conditions(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    if not doc.conditions:
        return
    pdf.heading("Measurement conditions")
    rows = []
    for c, cond in enumerate(doc.conditions):
        unit = print_unit(cond.unit)
        field = f"conditions[{c}]"
        U = (f"± {plain(cond.uncertainty, field=f'{field}.uncertainty')} {unit}"
             if cond.uncertainty is not None else "–")
        rows.append([cond.quantity[:1].upper() + cond.quantity[1:],
                     f"{plain(cond.mean, field=f'{field}.mean')} {unit}",
                     f"{plain(cond.minimum, field=f'{field}.minimum')} {unit}",
                     f"{plain(cond.maximum, field=f'{field}.maximum')} {unit}", U])
    pdf.grid(["Quantity", "Mean", "Minimum", "Maximum", "U of the mean (k = 2)"], rows,
             [40.0, 26.0, 26.0, 26.0, 32.0], ["LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"],
             zebra=False)
    pdf.ln(1)


def _standards(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    pdf.heading("Measurement standards used and traceability")
    if doc.standards:
        rows = []
        for std in doc.standards:
            name = std.description + (f" ({std.identifier})" if std.identifier else "")
            rows.append([name, ", ".join(x for x in (std.manufacturer, std.model) if x),
                         std.serial_number or "–", std.certificate_number,
                         std.certificate_issuer or "–", _fmt_date(std.calibration_date),
                         _fmt_date(std.due_date)])
        widths = [36.0, 28.0, 20.0, 32.0, 26.0, 19.0, 19.0]
        scale = pdf.epw_ / sum(widths)
        pdf.grid(["Standard (id)", "Manufacturer, model", "Serial number",
                  "Calibration certificate", "Issued by", "Calibrated", "Due"], rows,
                 [w * scale for w in widths],
                 ["LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "CENTER", "CENTER"], zebra=False)
        pdf.ln(1.5)
    pdf.paragraph(doc.traceability_statement)


def _statements(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    pdf.heading("Measurement uncertainty")
    pdf.paragraph(UNCERTAINTY_STATEMENT)
    verdicts = [dcc_conformity(p.conformity, field="conformity")
                for table in doc.results for p in table.points if p.conformity is not None]
    overall = worst_verdict(verdicts)
    if overall is not None or doc.decision_rule:
        pdf.heading("Statement of conformity")
        if doc.decision_rule:
            pdf.paragraph(f"Decision rule: {doc.decision_rule}")
        if overall is not None:
            counts = {v: verdicts.count(v) for v in ("pass", "conditionalPass",
                                                     "conditionalFail", "fail")}
            summary = ", ".join(f"{n} {CONFORMITY_TEXT[v].lower()}" for v, n in counts.items()
                                if n)
            pdf.paragraph(f"Overall: {CONFORMITY_TEXT[overall]} ({summary} of "
                          f"{len(verdicts)} points with a specification).", style="B")
    pdf.heading("Remarks")
    for remark in doc.statements:
        pdf.paragraph(remark)
    pdf.paragraph(VALIDITY_STATEMENT)


def _signatures(pdf: _CertificatePdf, doc: CertificateDocument) -> None:
    if pdf.will_page_break(30):
        pdf.add_page()
    pdf.heading("Signatures")
    if not doc.signatories:
        pdf.paragraph("Draft: not yet signed.", style="B")
        return
    n = len(doc.signatories)
    gap = 5.0
    width = (pdf.epw_ - gap * (n - 1)) / n
    top = pdf.get_y() + 2
    for i, s in enumerate(doc.signatories):
        x = MARGIN + i * (width + gap)
        pdf.set_draw_color(*ACCENT)
        pdf.line(x, top + 8, x + width, top + 8)
        pdf.set_y(top + 9)
        pdf.set_font(FAMILY, "B", 8.5)
        pdf.text_block(x, width, s.name, 4)
        pdf.set_font(FAMILY, "", 7.5)
        pdf.set_text_color(*TEXT_GREY)
        when = s.signed_at.strftime("%Y-%m-%d %H:%M %Z").strip() if s.signed_at else "–"
        pdf.text_block(x, width, f"{s.role[:1].upper()}{s.role[1:]}\n{when}", 3.6)
        pdf.set_text_color(0, 0, 0)
    pdf.set_xy(MARGIN, top + 22)
    pdf.paragraph("Signed electronically. The digital calibration certificate (DCC, XML) of this "
                  "certificate carries the laboratory's electronic seal and can be checked at "
                  "the verification address in the QR code.", size=7)


def render_pdf(doc: CertificateDocument) -> bytes:
    """The certificate ``doc`` as PDF bytes (A4, fonts embedded, QR code to the verification page).

    Raises :class:`~labctl.errors.ValidationError` for a document that cannot be issued
    (see :func:`~labctl.platform.documents.checks.check_document`) or whose text holds
    characters the embedded font cannot print.
    """
    check_document(doc)
    return output_pdf(lay_out(doc))


def lay_out(doc: CertificateDocument) -> _CertificatePdf:
    """The certificate's pages, ready for output (no checks: :func:`render_pdf` makes them)."""
    pdf = _CertificatePdf(doc)
    install_fonts(pdf, _strings(doc))
    pdf.set_title(f"{doc.title} {doc.number} revision {doc.revision}")
    pdf.set_author(doc.laboratory.name)
    pdf.set_subject(f"{doc.item.description} {doc.item.serial_number}")
    pdf.set_creator(f"labctl {labctl_release()}")
    pdf.set_lang(doc.language)
    # A fixed creation date makes the PDF (and the DCC that embeds it) a function of the
    # document alone: re-rendering an issued revision gives the same bytes and hash.
    pdf.set_creation_date(datetime.combine(doc.issue_date, time(0, 0), tzinfo=UTC))
    pdf.add_page()
    _administrative(pdf, doc)
    _amendment(pdf, doc)
    for t, table in enumerate(doc.results):
        _results_table(pdf, table, t)
    _conditions(pdf, doc)
    _standards(pdf, doc)
    _statements(pdf, doc)
    _signatures(pdf, doc)
    return pdf
