"""The control chart as inline SVG, drawn from :func:`~.chart.layout_chart` on the server.

No script, no external asset, no ``style`` attribute or element (the pages' Content Security
Policy allows no inline style): colours and dashes are presentation attributes. The SVG is
accessible: ``role="img"`` labelled by its ``<title>`` and described by a ``<desc>`` that
states the findings; each check is a ``<g class="check">`` with its own ``<title>`` (date,
value, U and what fired), ``data-index`` and ``data-rules`` (the codes of what fired).
"""

from __future__ import annotations

import re
from html import escape

from labctl.errors import ValidationError
from labctl.platform.documents.chart import (
    RGB,
    Band,
    ChartLabels,
    ControlChartData,
    Label,
    Line,
    Marker,
    Polygon,
    Rect,
    Shape,
    layout_chart,
)

__all__ = ["control_chart_svg"]

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _c(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _n(x: float) -> str:
    """A coordinate with two decimals, no trailing zeros (stable text for the README test)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _a(text: str) -> str:
    return escape(text, quote=True)


def _marker_path(m: Marker) -> str:
    x, y, s = m.x, m.y, m.size
    if m.shape == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(s)}"'
    if m.shape == "square":
        return f'<rect x="{_n(x - s)}" y="{_n(y - s)}" width="{_n(2 * s)}" height="{_n(2 * s)}"'
    if m.shape == "diamond":
        pts = [(x, y - s * 1.2), (x + s, y), (x, y + s * 1.2), (x - s, y)]
    else:  # triangle, pointing up
        pts = [(x, y - s * 1.15), (x + s, y + s * 0.75), (x - s, y + s * 0.75)]
    return '<polygon points="' + " ".join(f"{_n(a)},{_n(b)}" for a, b in pts) + '"'


def _shape(s: Shape) -> str:
    if isinstance(s, Line):
        dash = f' stroke-dasharray="{" ".join(_n(d) for d in s.dash)}"' if s.dash else ""
        return (f'<line class="{s.role}" x1="{_n(s.x1)}" y1="{_n(s.y1)}" x2="{_n(s.x2)}" '
                f'y2="{_n(s.y2)}" stroke="{_c(s.colour)}" stroke-width="{_n(s.width)}"{dash}/>')
    if isinstance(s, Band):
        return (f'<rect class="{s.role}" x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" '
                f'height="{_n(s.h)}" fill="{_c(s.fill)}" fill-opacity="{_n(s.opacity)}"/>')
    if isinstance(s, Rect):
        fill = _c(s.fill) if s.fill else "none"
        stroke = f' stroke="{_c(s.stroke)}" stroke-width="1"' if s.stroke else ""
        return (f'<rect class="{s.role}" x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(s.w)}" '
                f'height="{_n(s.h)}" fill="{fill}"{stroke}/>')
    if isinstance(s, Polygon):
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in s.points)
        return (f'<polygon class="{s.role}" points="{pts}" fill="{_c(s.fill)}" '
                f'fill-opacity="{_n(s.opacity)}"/>')
    if isinstance(s, Label):
        weight = ' font-weight="bold"' if s.bold else ""
        return (f'<text class="{s.role}" x="{_n(s.x)}" y="{_n(s.y)}" font-size="{_n(s.size)}" '
                f'text-anchor="{s.anchor}" fill="{_c(s.colour)}"{weight}>{escape(s.text)}</text>')
    # A marker: a group with its error bar, its shape and its title.
    if s.panel == "legend":
        return f'{_marker_path(s)} class="legend" fill="{_c(s.colour)}" stroke="#ffffff"/>'
    cls = "check" if s.panel == "value" else "mr"
    if s.codes:
        cls += " flagged"
    parts = [f'<g class="{cls}" data-index="{s.index}" data-shape="{s.shape}" '
             f'data-x="{_n(s.x)}" data-y="{_n(s.y)}" data-rules="{_a(" ".join(s.codes))}">',
             f"<title>{escape(s.title)}</title>"]
    if s.bar is not None:
        parts.append(f'<line class="error-bar" x1="{_n(s.x)}" y1="{_n(s.bar[0])}" '
                     f'x2="{_n(s.x)}" y2="{_n(s.bar[1])}" stroke="#969ba0" stroke-width="1"/>')
    parts.append(f'{_marker_path(s)} fill="{_c(s.colour)}" stroke="#ffffff" '
                 'stroke-width="0.8"/>')
    parts.append("</g>")
    return "".join(parts)


def control_chart_svg(data: ControlChartData, *, width: float = 720, height: float = 440,
                      labels: ChartLabels | None = None, chart_id: str = "control-chart"
                      ) -> str:
    """``data`` as an ``<svg>`` element (text) to put inline in a page or save as a file.

    ``width`` × ``height`` user units (the SVG scales to its container through its
    ``viewBox``); ``labels`` the words (English by default); ``chart_id`` prefixes the ids of
    the title and description (two charts on one page need two ids).
    """
    if not isinstance(chart_id, str) or not _ID.fullmatch(chart_id):
        raise ValidationError("chart_id", chart_id,
                              "a letter then up to 63 letters, digits, '-' or '_'")
    lay = layout_chart(data, width=width, height=height, labels=labels)
    w, h = _n(lay.width), _n(lay.height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="control-chart" '
           f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="DejaVu Sans, '
           'Verdana, Arial, sans-serif">',
           f'<title id="{chart_id}-title">{escape(lay.title)}</title>',
           f'<desc id="{chart_id}-desc">{escape(lay.description)}</desc>',
           f'<rect class="background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>']
    out.extend(_shape(s) for s in lay.shapes)
    out.append("</svg>")
    return "\n".join(out) + "\n"
