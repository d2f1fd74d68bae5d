"""Status labels of standards and equipment (ISO/IEC 17025 6.4.8), as sheets of self-adhesive
labels printed on A4, rendered with fpdf2 in the certificate's fonts.

Each label states the item's identifier and name, its status, when it was calibrated and
when it is due, its restrictions of use, the laboratory, and a QR code to its public page.
An item that must not be used (quarantined, out of tolerance, under investigation, retired,
or past its due date) says so in words, in bold red capitals ("QUARANTINED — DO NOT USE"):
the colour helps, the words carry the meaning (a label photocopied in grey still says it).

No database here: the caller builds :class:`Label` values (see
:mod:`labctl.platform.notices.labels`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

from labctl.errors import ValidationError
from labctl.platform.documents._fonts import (
    _FACES,
    FACES,
    FAMILY,
    FONT_DIR,
    install_fonts,
    output_pdf,
)
from labctl.platform.documents.pdf import draw_qr

#: Where a face for Chinese, Japanese and Korean text is looked for, first found used: one
#: shipped beside the DejaVu faces, else Debian's ``fonts-wqy-microhei`` (Apache-2.0). The
#: certificate's DejaVu Sans has no CJK glyphs; a label's names often do (a Chinese
#: laboratory's name, an item's description), so the labels fall back to this face for them.
CJK_FACES: tuple[Path, ...] = (FONT_DIR / "wqy-microhei.ttc",
                               Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))
CJK_FAMILY = "CJK"

RED = (200, 0, 0)
BLACK = (0, 0, 0)
GREY = (90, 90, 90)


@dataclass(frozen=True)
class LabelLayout:
    """A sheet of labels: ``columns`` × ``rows`` labels of ``width`` × ``height`` mm on A4
    portrait, the first at (``left``, ``top``), ``gap_x``/``gap_y`` mm between them."""

    name: str
    columns: int
    rows: int
    width: float
    height: float
    left: float
    top: float
    gap_x: float = 0.0
    gap_y: float = 0.0

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def origin(self, index: int) -> tuple[float, float]:
        """Top left corner (mm) of the ``index``-th label on its sheet (row by row)."""
        row, column = divmod(index % self.per_sheet, self.columns)
        return (self.left + column * (self.width + self.gap_x),
                self.top + row * (self.height + self.gap_y))


#: The sheets offered, by name: the common A4 stock (24 labels of 70 × 37 mm, no margins;
#: 14 of 99.1 × 38.1 mm).
LAYOUTS: dict[str, LabelLayout] = {
    "3x8": LabelLayout("3x8", columns=3, rows=8, width=70.0, height=37.0, left=0.0, top=0.5),
    "2x7": LabelLayout("2x7", columns=2, rows=7, width=99.1, height=38.1, left=4.65,
                       top=15.15, gap_x=2.5),
}
DEFAULT_LAYOUT = "3x8"

#: What a label says, in red, for an item that must not be used as it is (by status, and
#: ``overdue`` for an item past its due date). Other statuses print in black.
WARNINGS: dict[str, str] = {
    "quarantined": "QUARANTINED — DO NOT USE",
    "out_of_tolerance": "OUT OF TOLERANCE — DO NOT USE",
    # in use with a warning (the runner warns): its results wait on the investigation
    "under_investigation": "UNDER INVESTIGATION — CHECK BEFORE USE",
    "retired": "RETIRED — DO NOT USE",
    "overdue": "CALIBRATION OVERDUE — DO NOT USE",
}
#: How other statuses read on a label.
STATUS_WORDS: dict[str, str] = {"in_service": "In service"}


@dataclass(frozen=True)
class Label:
    """What one label states. ``status`` is a :class:`~labctl.platform.models.base.
    StandardStatus` value; ``overdue`` whether ``due`` is before the day it is printed."""

    identifier: str
    name: str
    status: str
    calibrated_on: date | None
    due: date | None
    restrictions: str
    laboratory: str
    url: str  # the item's public page (the QR code's target)
    overdue: bool = False

    @property
    def warnings(self) -> list[str]:
        """The red statements this label carries (none for an item fit for use)."""
        out = [WARNINGS[self.status]] if self.status in WARNINGS else []
        if self.overdue and self.status != "retired":
            out.append(WARNINGS["overdue"])
        return out

    @property
    def status_text(self) -> str:
        return STATUS_WORDS.get(self.status, self.status.replace("_", " ").capitalize())


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened with "…" to fit ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _wrap(pdf: FPDF, text: str, width: float, max_lines: int) -> list[str]:
    """``text`` broken into at most ``max_lines`` lines of ``width`` mm (the last shortened
    with "…" if it does not all fit)."""
    lines: list[str] = []
    current = ""
    words = text.split()
    for i, word in enumerate(words):
        trial = f"{current} {word}".strip()
        if pdf.get_string_width(trial) <= width or not current:
            current = trial
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            current = " ".join(words[i:])
            break
    if current:
        lines.append(current)
    return [_fit(pdf, line, width) for line in lines[:max_lines]]


def _line(pdf: FPDF, x: float, y: float, w: float, h: float, text: str) -> None:
    pdf.set_xy(x, y)
    pdf.cell(w, h, text)


def _draw_label(pdf: FPDF, label: Label, layout: LabelLayout, x0: float, y0: float) -> None:
    pad = 2.5
    qr = min(layout.height - 2 * pad - 4.0, 24.0)
    qr_x = x0 + layout.width - pad - qr
    text_w = qr_x - x0 - pad - 1.5
    x, y = x0 + pad, y0 + pad
    draw_qr(pdf, label.url, qr_x, y, qr)  # as the certificate draws it
    pdf.set_text_color(*GREY)
    pdf.set_font(FAMILY, "", 5)
    pdf.set_xy(qr_x - 1, y + qr + 0.3)
    pdf.cell(qr + 2, 2.0, "scan: public page", align="C")

    pdf.set_text_color(*BLACK)
    pdf.set_font(FAMILY, "B", 8.5)
    _line(pdf, x, y, text_w, 3.6, _fit(pdf, label.identifier, text_w))
    y += 3.8
    pdf.set_font(FAMILY, "", 6.5)
    for line in _wrap(pdf, label.name, text_w, 2):
        _line(pdf, x, y, text_w, 2.8, line)
        y += 2.8
    y += 0.4
    warnings = label.warnings
    if warnings:
        pdf.set_text_color(*RED)
        pdf.set_font(FAMILY, "B", 6.5)
        for warning in warnings:
            for line in _wrap(pdf, warning, text_w, 2):
                _line(pdf, x, y, text_w, 3.0, line)
                y += 3.0
        pdf.set_text_color(*BLACK)
    else:
        pdf.set_font(FAMILY, "B", 7)
        _line(pdf, x, y, text_w, 3.0, _fit(pdf, f"Status: {label.status_text}", text_w))
        y += 3.0
    pdf.set_font(FAMILY, "", 6.5)
    calibrated = label.calibrated_on.isoformat() if label.calibrated_on else "—"
    due = label.due.isoformat() if label.due else "—"
    _line(pdf, x, y, text_w, 2.8, f"Calibrated: {calibrated}")
    y += 2.8
    if label.overdue:
        pdf.set_text_color(*RED)
        pdf.set_font(FAMILY, "B", 6.5)
    _line(pdf, x, y, text_w, 2.8, f"Due: {due}")
    pdf.set_text_color(*BLACK)
    pdf.set_font(FAMILY, "", 6.5)
    y += 2.8
    bottom = y0 + layout.height - pad - 2.6
    if label.restrictions:
        lines = max(1, int((bottom - y) // 2.6))
        pdf.set_font(FAMILY, "B", 6)
        for line in _wrap(pdf, f"Restrictions: {label.restrictions}", text_w, lines):
            _line(pdf, x, y, text_w, 2.6, line)
            y += 2.6
    pdf.set_text_color(*GREY)
    pdf.set_font(FAMILY, "", 5.5)
    _line(pdf, x, bottom, layout.width - 2 * pad, 2.6,
          _fit(pdf, label.laboratory, layout.width - 2 * pad))
    pdf.set_text_color(*BLACK)


@functools.lru_cache(maxsize=2)
def _cmap(path: Path) -> frozenset[int]:
    with TTFont(path, fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap())


def cjk_face() -> Path | None:
    """The CJK fallback face this installation has (:data:`CJK_FACES`), or None."""
    return next((p for p in CJK_FACES if p.is_file()), None)


def _install(pdf: FPDF, texts: Iterable[str]) -> None:
    """The certificate's faces; with the CJK face as fallback when some text needs it.
    Characters neither has are refused, naming them (a label never prints tofu boxes)."""
    texts = list(texts)
    used = {ord(ch) for text in texts for ch in text if ch not in "\n\r\t"}
    outside = used - _FACES.full_cmap()
    if not outside:
        install_fonts(pdf, texts)
        return
    face = cjk_face()
    missing = sorted(outside - _cmap(face)) if face else sorted(outside)
    if missing:
        shown = ", ".join(f"{chr(cp)!r} (U+{cp:04X})" for cp in missing[:10])
        raise ValidationError("label text", shown, "characters of DejaVu Sans or, for "
                              "Chinese, Japanese and Korean, of the CJK face "
                              + ("" if face else "(none installed: fonts-wqy-microhei)"))
    assert face is not None
    for style, name in FACES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))
        pdf.add_font(CJK_FAMILY, style, str(face), collection_font_number=0)
    pdf.set_fallback_fonts([CJK_FAMILY])


def _texts(labels: Iterable[Label]) -> Iterable[str]:
    yield "Calibrated: Due: Restrictions: Status: scan: public page —…"
    for label in labels:
        yield from (label.identifier, label.name, label.restrictions, label.laboratory,
                    label.status_text, *label.warnings)


def label_sheet_pdf(labels: Sequence[Label], *, layout: str = DEFAULT_LAYOUT) -> bytes:
    """Sheets of ``labels`` (in order, row by row) on the named layout (:data:`LAYOUTS`), as
    PDF bytes. Refused (:class:`ValidationError`): no labels, an unknown layout, text the
    embedded fonts cannot print."""
    sheet = LAYOUTS.get(layout)
    if sheet is None:
        raise ValidationError("layout", layout, " or ".join(LAYOUTS))
    if not labels:
        raise ValidationError("labels", [], "at least one label")
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(0, 0, 0)
    _install(pdf, _texts(labels))
    pdf.set_title("Status labels")
    pdf.set_creator("labctl")
    for i, label in enumerate(labels):
        if i % sheet.per_sheet == 0:
            pdf.add_page()
        x, y = sheet.origin(i)
        _draw_label(pdf, label, sheet, x, y)
    return output_pdf(pdf)
