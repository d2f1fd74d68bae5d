"""The traceability graph's layout, without a browser: every node and edge of the chain is
there once, boxes never overlap, the national primary standards are on top, and a broken link
stays marked as broken."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations

from labctl.platform.models.base import CertificateStatus, StandardKind
from labctl.platform.pages.public.graph import GAP_X, LABEL_DX, LABEL_W, Box, graph_of, layout
from labctl.platform.traceability import Traceability
from labctl.platform.traceability.chain import CalibrationRef, ChainLink, ChainNode

T = datetime(2026, 11, 1, tzinfo=UTC)


def _link(std: str, kind: StandardKind, holder: str, cert: str | None, *,
          nxt: ChainNode | None = None, state: str = "valid", terminal: str | None = None
          ) -> ChainLink:
    return ChainLink(
        standard=std, kind=kind, description=std, holder=holder, used_at=T, state=state,
        explanation="why" if state != "valid" else "ok",
        calibration=CalibrationRef(certificate_number=cert, issuer=holder,
                                   calibrated_on="2026-01-01", due_date="2027-01-01",
                                   on_platform=True) if cert else None,
        next=nxt, terminal=terminal or ("continues" if nxt else "national_primary"))


def _node(cert: str, lab: str, links: list[ChainLink]) -> ChainNode:
    return ChainNode(certificate=cert, laboratory=lab, status=CertificateStatus.ISSUED,
                     calibration_end=T, links=links)


def _chain() -> Traceability:
    """An item calibrated with two working standards; both were calibrated by the provincial
    institute against one reference standard (a shared node), which goes to the national
    primary standard; a third standard's link is expired (broken)."""
    nmi = _node("NMI-1 rev 0", "NMI", [_link("NMI-JVS-1", StandardKind.NATIONAL_PRIMARY, "NMI",
                                              None)])
    ref = _link("PROV-DCV-1", StandardKind.REFERENCE, "PROV", "NMI-1", nxt=nmi)
    prov_a = _node("PROV-1 rev 0", "PROV", [ref])
    prov_b = _node("PROV-2 rev 0", "PROV", [ref])
    top = _node("LAB-9 rev 0", "LAB", [
        _link("LAB-CAL-01", StandardKind.WORKING, "LAB", "PROV-1", nxt=prov_a),
        _link("LAB-DMM-01", StandardKind.WORKING, "LAB", "PROV-2", nxt=prov_b),
        _link("LAB-OLD-01", StandardKind.WORKING, "LAB", "PROV-0", state="standard_expired",
              terminal="broken"),
    ])
    return Traceability(chain=top, complete=False, national_primary_standards=["NMI-JVS-1"],
                        broken_links=["LAB-9 → LAB-OLD-01: expired"])


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def test_every_node_and_edge_is_there_once() -> None:
    g = graph_of(_chain(), subject="LAB-9 rev 0", subtitle="LAB")
    titles = sorted(n.title for n in g.nodes.values())
    assert titles == ["LAB-9 rev 0", "LAB-CAL-01", "LAB-DMM-01", "LAB-OLD-01", "NMI-JVS-1",
                      "PROV-DCV-1"]
    pairs = sorted((g.nodes[e.lower].title, g.nodes[e.upper].title) for e in g.edges)
    assert pairs == [("LAB-9 rev 0", "LAB-CAL-01"), ("LAB-9 rev 0", "LAB-DMM-01"),
                     ("LAB-9 rev 0", "LAB-OLD-01"), ("LAB-CAL-01", "PROV-DCV-1"),
                     ("LAB-DMM-01", "PROV-DCV-1"), ("PROV-DCV-1", "NMI-JVS-1")]
    cert = {(g.nodes[e.lower].title, g.nodes[e.upper].title): e for e in g.edges}
    assert cert[("LAB-9 rev 0", "LAB-CAL-01")].certificate == "PROV-1"
    assert cert[("LAB-9 rev 0", "LAB-OLD-01")].broken
    assert not cert[("PROV-DCV-1", "NMI-JVS-1")].broken


def test_layout_places_every_box_without_overlap_national_on_top() -> None:
    g = graph_of(_chain(), subject="LAB-9 rev 0", subtitle="LAB")
    lay = layout(g)
    assert {b.node.key for b in lay.boxes} == set(g.nodes)
    assert len(lay.lines) == len(g.edges)
    for a, b in combinations(lay.boxes, 2):
        assert not _overlap(a, b), (a.node.title, b.node.title)
        if a.y == b.y:
            assert abs(a.x - b.x) >= a.w + GAP_X
    for box in lay.boxes:
        assert box.x >= 0 and box.x + box.w <= lay.width
        assert box.y >= 0 and box.y + box.h <= lay.height
    by = {b.node.title: b for b in lay.boxes}
    assert by["NMI-JVS-1"].y == min(b.y for b in lay.boxes)  # the top of the chain
    assert by["LAB-9 rev 0"].y == max(b.y for b in lay.boxes)  # the subject at the bottom
    assert by["LAB-CAL-01"].y == by["LAB-DMM-01"].y == by["LAB-OLD-01"].y
    for line in lay.lines:  # each line joins the top of the lower box to the bottom of the upper
        lower, upper = by[g.nodes[line.edge.lower].title], by[g.nodes[line.edge.upper].title]
        assert (line.x1, line.y1) == (lower.cx, lower.y)
        assert (line.x2, line.y2) == (upper.cx, upper.y + upper.h)
        assert line.y2 < line.y1
        assert line.mid[0] + LABEL_DX + LABEL_W <= lay.width  # its label is not cut off


def test_a_lone_subject_is_laid_out() -> None:
    bare = Traceability(chain=_node("X-1 rev 0", "LAB", []), complete=False,
                        national_primary_standards=[], broken_links=[])
    lay = layout(graph_of(bare, subject="X-1 rev 0", subtitle="LAB"))
    assert len(lay.boxes) == 1 and not lay.lines and lay.width > lay.boxes[0].w
