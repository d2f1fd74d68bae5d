"""The traceability chain as a picture: a layered graph from the subject (a certificate's item
or a standard) at the bottom up to the national primary standards at the top, laid out here on
the server and drawn as inline SVG (no script).

:func:`graph_of` turns the service's :class:`~labctl.platform.traceability.Traceability` into
nodes and edges (a standard used along two paths is one node); :func:`layout` places them
(pure arithmetic, tested without a browser); the template draws the result. Every edge keeps
the certificate that made the link and its validity at the time of use, so the picture and
the list beside it (for screen readers) say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labctl.platform.traceability import Traceability
from labctl.platform.traceability.chain import ChainNode

#: Box size and spacing, in SVG user units (the SVG scales to the page width).
NODE_W = 190
NODE_H = 58
GAP_X = 40
GAP_Y = 96
MARGIN = 16
LABEL_DX = 6  # an edge's label starts this far right of the line's middle
LABEL_W = 200  # room kept for a label (a certificate number; "valid at the time of use")

#: How each link state reads (English; translated in the template) and how it is marked:
#: colour class AND a shape/text marker, never colour alone.
VALID = "valid"


@dataclass(frozen=True)
class Node:
    """A box: the subject or a standard used somewhere in the chain."""

    key: str
    title: str  # identifier (or certificate number for the subject)
    subtitle: str  # holder, or what it is
    kind: str  # "subject", "national_primary", "reference", "working", ...
    depth: int  # 0: the subject; grows towards the national standards


@dataclass(frozen=True)
class Edge:
    """"``lower`` was calibrated against (or measured with) ``upper``": the link, its
    certificate (the calibration of ``upper`` valid when it was used) and its state."""

    lower: str
    upper: str
    state: str  # "valid" or the rule it broke (standard_expired, ...)
    terminal: str  # national_primary, continues, outside_platform, broken, cycle
    certificate: str | None  # certificate number of upper's calibration
    on_platform: bool  # the certificate can be verified here
    due_date: str | None
    explanation: str

    @property
    def broken(self) -> bool:
        return self.state != VALID or self.terminal in ("broken", "cycle")


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


def _add(graph: Graph, node: ChainNode, lower: str, depth: int) -> None:
    for link in node.links:
        key = f"std:{link.standard}"
        old = graph.nodes.get(key)
        if old is None or old.depth < depth:
            graph.nodes[key] = Node(key, link.standard, link.holder, link.kind.value, depth)
        cal = link.calibration
        edge = Edge(lower, key, link.state, link.terminal,
                    cal.certificate_number if cal else None,
                    bool(cal and cal.on_platform), cal.due_date if cal else None,
                    link.explanation)
        if edge not in graph.edges:
            graph.edges.append(edge)
        if link.next is not None:
            _add(graph, link.next, key, depth + 1)


def graph_of(trace: Traceability, *, subject: str, subtitle: str) -> Graph:
    """The chain as a graph whose bottom node (``subject``) is the certificate's item or the
    standard whose calibration certificate the chain starts from."""
    graph = Graph()
    root = "subject"
    graph.nodes[root] = Node(root, subject, subtitle, "subject", 0)
    _add(graph, trace.chain, root, 1)
    # a node reached at two depths sits at the higher one; its edges follow it
    return graph


@dataclass(frozen=True)
class Box:
    node: Node
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True)
class Line:
    edge: Edge
    x1: float  # top of the lower box
    y1: float
    x2: float  # bottom of the upper box
    y2: float

    @property
    def mid(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: list[Box]
    lines: list[Line]


def layout(graph: Graph) -> Layout:
    """Layers by depth, the deepest (national) on top, each layer centred; boxes of one layer
    never overlap (``GAP_X`` apart) and layers are ``GAP_Y`` apart, which leaves room for the
    edge labels between them."""
    layers: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        layers.setdefault(node.depth, []).append(node)
    for nodes in layers.values():
        nodes.sort(key=lambda n: n.title)
    top = max(layers) if layers else 0
    widest = max((len(n) for n in layers.values()), default=1)
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X
    height = 2 * MARGIN + (top + 1) * NODE_H + top * GAP_Y
    boxes: dict[str, Box] = {}
    for depth, nodes in layers.items():
        row = len(nodes) * NODE_W + (len(nodes) - 1) * GAP_X
        x0 = (width - row) / 2
        y = MARGIN + (top - depth) * (NODE_H + GAP_Y)
        for i, node in enumerate(nodes):
            boxes[node.key] = Box(node, x0 + i * (NODE_W + GAP_X), y)
    lines = []
    for edge in graph.edges:
        lo, up = boxes[edge.lower], boxes[edge.upper]
        lines.append(Line(edge, lo.cx, lo.y, up.cx, up.y + up.h))
    # the labels right of the middle of the rightmost line must fit too
    right = max((line.mid[0] + LABEL_DX + LABEL_W + MARGIN for line in lines), default=0)
    return Layout(max(width, right), height, list(boxes.values()), lines)
