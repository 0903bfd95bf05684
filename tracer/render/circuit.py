"""The circuit diagram of a graph problem, drawn as CS231n's "Backpropagation, Intuitions" draws it.

Gates are circles holding their operation (+, ×, max, σ, exp, 1/x, ·(−1) …); every wire
carries its forward value ABOVE it (green) and its gradient BELOW it (red); inputs are
names at the left end of their wires and the output wire leaves the last gate to the
right, its gradient 1.00. This module places the picture (:func:`layout`) and writes it
twice, as a TikZ ``tikzpicture`` (:func:`tikz`) and as a standalone SVG (:func:`svg`).

It computes no math: every number arrives as a ready string (:class:`CircuitNode`'s
``value`` and ``gradient``) and every name and gate symbol as ready LaTeX and Unicode.
What it computes is geometry only — columns, rows, coordinates in centimetres and the
estimated extent of each label — so that both drawings share one layout and a test can
check that no two labels collide.

The layout (:func:`layout`):

- **columns by depth**: a gate stands one column right of its deepest input; the output
  is in the rightmost column; a leaf stands just left of its earliest consumer.
- **rows** within a column are ordered by the barycentre heuristic (a few sweeps left to
  right and back, the ordering with the fewest crossings kept), and then given heights by
  pulling every wire towards straight while keeping the order and a fixed pitch.
- **one stem per node**: a node's value and gradient sit on ONE short horizontal wire out
  of it. A node used by several gates (fan-out) keeps that one stem — its gradient there
  is the sum over its consumers, as the engine computed it — and the stem branches (a
  dot) into one wire per consumer. A gate's inputs enter its circle at fixed ports in
  slot order, the first at the top.
- a wire that skips columns runs through a place held for it in each column it crosses
  (a "dummy"), so that it never runs through a gate or a label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

# ---------------------------------------------------------------------------
# The input: what the caller builds from a solution
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CircuitNode:
    """One quantity of the graph: a leaf (input or parameter) or a gate, with its ready strings."""

    id: str  # a safe identifier [A-Za-z0-9]+ (TikZ node names, SVG ids)
    name_tex: str  # the node's name as LaTeX math: "w_{0}", "q", r"\mathrm{dot}"
    name_text: str  # the same as plain Unicode: "w₀", "q"
    gate_tex: str | None  # None: a leaf; else the gate's symbol as LaTeX: "+", r"\times", r"\sigma"
    gate_text: str | None  # the same as plain Unicode: "+", "×", "σ"
    value: str  # forward value, already formatted by the caller
    gradient: str  # d output / d this node, already formatted
    is_output: bool = False


@dataclass(frozen=True)
class CircuitEdge:
    """``source`` is the ``slot``-th argument (0 = first, drawn at the top) of the gate ``target``."""

    source: str
    target: str
    slot: int


# ---------------------------------------------------------------------------
# The layout: geometry in centimetres, y pointing up (as TikZ has it)
# ---------------------------------------------------------------------------

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """An axis-aligned extent (cm): a label's estimated box, a gate's bounding square."""

    left: float
    bottom: float
    right: float
    top: float

    def overlaps(self, other: Box) -> bool:
        return self.left < other.right and other.left < self.right and self.bottom < other.top and other.bottom < self.top

    def crossed_by(self, a: Point, b: Point) -> bool:
        """Whether the segment a–b passes through the box's interior (Liang–Barsky clipping)."""
        t0, t1 = 0.0, 1.0
        dx, dy = b[0] - a[0], b[1] - a[1]
        for p, q in ((-dx, a[0] - self.left), (dx, self.right - a[0]), (-dy, a[1] - self.bottom), (dy, self.top - a[1])):
            if p == 0:
                if q <= 0:
                    return False
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 >= t1:
                return False
        return True


@dataclass(frozen=True)
class PlacedNode:
    node: CircuitNode
    column: int
    row: int  # position in its column, 0 at the top
    x: float  # a gate: its centre; a leaf: the right end of its name, where its stem starts
    y: float  # the height of its stem (a gate's centre)
    stem_end: float  # x where its stem ends: its labels sit between x (+ radius) and here
    gate_pt: int = 0  # a gate: the font size (pt) of its symbol, smaller for a long one; a leaf: 0

    @property
    def is_gate(self) -> bool:
        return self.node.gate_tex is not None


LabelKind = Literal["value", "gradient", "input", "output"]


@dataclass(frozen=True)
class Label:
    """A string placed on the drawing: a value (``anchor`` south: it sits on ``y``), a gradient
    (north: it hangs under ``y``), an input's name (east: it ends at ``x``) or the output's
    name (west: it starts at ``x``). ``box`` is the layout's estimate of its extent."""

    kind: LabelKind
    node_id: str
    tex: str
    text: str
    x: float
    y: float
    box: Box

    @property
    def anchor(self) -> str:
        return {"value": "south", "gradient": "north", "input": "east", "output": "west"}[self.kind]


@dataclass(frozen=True)
class Wire:
    """A polyline. A stem (``target`` None) runs from its node to where it ends or branches; the
    output's stem ends in an arrowhead. A connector runs from the stem's end to the ``slot``-th
    port of gate ``target``, through the places held for it in the columns it crosses."""

    source: str
    target: str | None
    slot: int | None
    points: tuple[Point, ...]
    arrow: bool


@dataclass(frozen=True)
class CircuitLayout:
    nodes: tuple[PlacedNode, ...]  # columns left to right, each top to bottom
    wires: tuple[Wire, ...]  # stems first, then connectors
    labels: tuple[Label, ...]
    branches: tuple[Point, ...]  # where a fan-out stem splits: drawn as dots
    radius: float  # of every gate circle
    extent: Box  # everything drawn, labels included

    def node(self, node_id: str) -> PlacedNode:
        return next(p for p in self.nodes if p.node.id == node_id)

    def gate_box(self, placed: PlacedNode) -> Box:
        r = self.radius
        return Box(placed.x - r, placed.y - r, placed.x + r, placed.y + r)

    def collisions(self) -> list[str]:
        """The layout's own check, empty when the drawing is clean: every pair of estimated boxes
        (labels, gates' bounding squares) that overlap, every wire through a label that is not its
        own, and every wire through a gate's circle other than the two it joins."""
        found = []
        boxes = [(f"{lab.kind} of {lab.node_id}", lab.box) for lab in self.labels]
        boxes += [(f"gate {p.node.id}", self.gate_box(p)) for p in self.nodes if p.is_gate]
        for i, (name_a, box_a) in enumerate(boxes):
            for name_b, box_b in boxes[i + 1 :]:
                if box_a.overlaps(box_b):
                    found.append(f"{name_a} overlaps {name_b}")
        for wire in self.wires:
            segments = list(zip(wire.points, wire.points[1:]))
            for lab in self.labels:
                if lab.node_id != wire.source and any(lab.box.crossed_by(a, b) for a, b in segments):
                    found.append(f"wire {wire.source}→{wire.target or '·'} crosses the {lab.kind} of {lab.node_id}")
            for p in self.nodes:
                if p.is_gate and p.node.id not in (wire.source, wire.target):
                    if any(_distance((p.x, p.y), a, b) < self.radius for a, b in segments):
                        found.append(f"wire {wire.source}→{wire.target or '·'} crosses gate {p.node.id}")
        return found


def _distance(point: Point, a: Point, b: Point) -> float:
    """The distance from ``point`` to the segment a–b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = max(0.0, min(1.0, ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / (dx * dx + dy * dy or 1.0)))
    return math.hypot(a[0] + t * dx - point[0], a[1] + t * dy - point[1])


# ---------------------------------------------------------------------------
# Sizes (cm). Numbers are set in \footnotesize (8 pt), names in the body size (10 pt), gate
# symbols in \small (9 pt); a character is taken as ~0.55 em wide (a generous estimate for
# Computer Modern's 0.5 em digits), a point, bracket or centred dot as 0.35 em, a minus sign
# as 0.8 em.
# ---------------------------------------------------------------------------

PT = 2.54 / 72.27  # one TeX point in cm
NUMBER_EM = 8 * PT
NAME_EM = 10 * PT
GATE_PTS = (9, 8, 7)  # a gate's symbol: \small, or \footnotesize, \scriptsize where it is long
GATE_SIZE_TEX = {9: r"\small", 8: r"\footnotesize", 7: r"\scriptsize"}
CHAR_EM = 0.55
NARROW_EM = 0.35
WIDE_EM = 0.8  # a minus, plus or times sign: 0.78 em in Computer Modern
WIDEST_EM = 0.85  # m, w
SUBSCRIPT_EM = 0.4  # ₀ … ₉ and the like print smaller
LABEL_SEP = 1 * PT  # TikZ inner sep of a label: the gap between it and its wire
LABEL_HEIGHT = 1.0 * NUMBER_EM + 2 * LABEL_SEP  # digits and a minus sign, with the inner sep
NAME_HEIGHT = 1.0 * NAME_EM + 2 * LABEL_SEP
MIN_RADIUS = 0.3
MAX_RADIUS = 0.42  # gates are no bigger than this unless a symbol fits no smaller at \scriptsize
GATE_PAD = 0.05  # between a gate's symbol and its circle
MIN_STEM = 0.85  # a stem's length, when its labels are short
STEM_PAD = 0.12  # between a stem's labels and its ends
CONNECTOR_RUN = 0.6  # the least horizontal run of a wire from a stem's end to the next column
LEAD = 0.18  # where a straight wire into a gate would cut another, its last stretch is level and
# this long, left of the column's circles
STEEPEST = 1.25  # a wire between columns climbs at most this much per unit run (51°), up to
LONGEST_RUN = 1.6  # this run
ROW_PITCH = 1.2  # between the stems of two nodes in one column
DUMMY_HALF = 0.2  # half the pitch a passing wire takes in a column
OUTPUT_GAP = 0.1  # between the output arrow's tip and the output's name
PORT_SPREAD = 38.0  # degrees: a two-input gate's ports lie at 180° ± this

_SAFE_ID = re.compile(r"[A-Za-z0-9]+")
_SUBSCRIPTS = set("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₔₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_NARROW = set(".,:;·()[]|'! ")
_WIDE = set("−-+×=÷±<>")
_WIDEST = set("mwMW")


def text_width(text: str, em: float) -> float:
    """The estimated printed width (cm) of ``text`` set in a font of size ``em``."""
    return em * sum(_char_em(ch) for ch in text)


def _char_em(ch: str) -> float:
    if ch in _SUBSCRIPTS:
        return SUBSCRIPT_EM
    if ch in _NARROW:
        return NARROW_EM
    if ch in _WIDE:
        return WIDE_EM
    if ch in _WIDEST:
        return WIDEST_EM
    return CHAR_EM


def _round(v: float) -> float:
    r = round(v, 3)
    return 0.0 if r == 0 else r


# ---------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------


def layout(nodes: Sequence[CircuitNode], edges: Sequence[CircuitEdge], *, max_nodes: int = 40) -> CircuitLayout | None:
    """Place the circuit of ``nodes`` and ``edges``; None when there are none or more than
    ``max_nodes`` (the caller then leaves the figure out: a bigger circuit does not read as one).

    A node used by several gates has ONE stem wire carrying its value and gradient (the
    gradient there is the sum over all its consumers); the stem then branches to each
    consumer. Raises ValueError on ids that are not [A-Za-z0-9]+, repeated ids, edges to
    unknown nodes or into a leaf, a slot used twice, or a cycle.
    """
    if not nodes or len(nodes) > max_nodes:
        return None
    by_id = _check(nodes, edges)
    inputs = _inputs_by_slot(edges)
    consumers: dict[str, list[CircuitEdge]] = {n.id: [] for n in nodes}
    for edge in sorted(edges, key=lambda e: (e.target, e.slot)):
        consumers[edge.source].append(edge)

    column = _columns(nodes, inputs, consumers)
    layers, segments, routes = _layered_graph(nodes, edges, column)
    _order_rows(layers, segments, inputs)
    radius = _gate_radius(nodes)
    port_dy = {(e.target, e.slot): radius * math.sin(math.radians(_port_angle(e.slot, len(inputs[e.target])))) for e in edges}
    heights = _heights(layers, segments, port_dy, set(by_id))
    return _geometry(by_id, inputs, consumers, layers, routes, heights, radius, port_dy)


def _check(nodes: Sequence[CircuitNode], edges: Sequence[CircuitEdge]) -> dict[str, CircuitNode]:
    by_id: dict[str, CircuitNode] = {}
    for node in nodes:
        if not _SAFE_ID.fullmatch(node.id):
            raise ValueError(f"circuit node id {node.id!r} is not [A-Za-z0-9]+")
        if node.id in by_id:
            raise ValueError(f"circuit node id {node.id!r} is used twice")
        by_id[node.id] = node
    seen: set[tuple[str, int]] = set()
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in by_id:
                raise ValueError(f"circuit edge {edge.source}→{edge.target}: no node {end!r}")
        if by_id[edge.target].gate_tex is None:
            raise ValueError(f"circuit edge {edge.source}→{edge.target}: {edge.target!r} is a leaf (gate_tex None)")
        if (edge.target, edge.slot) in seen or edge.slot < 0:
            raise ValueError(f"circuit edge {edge.source}→{edge.target}: slot {edge.slot} used twice or negative")
        seen.add((edge.target, edge.slot))
    return by_id


def _inputs_by_slot(edges: Sequence[CircuitEdge]) -> dict[str, list[CircuitEdge]]:
    inputs: dict[str, list[CircuitEdge]] = {}
    for edge in sorted(edges, key=lambda e: (e.target, e.slot)):
        inputs.setdefault(edge.target, []).append(edge)
    return inputs


def _columns(nodes: Sequence[CircuitNode], inputs: dict[str, list[CircuitEdge]], consumers: dict[str, list[CircuitEdge]]) -> dict[str, int]:
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def deep(node_id: str) -> int:  # iterative: a long chain must not hit the recursion limit
        stack = [node_id]
        while stack:
            current = stack[-1]
            if current in depth:
                stack.pop()
                continue
            visiting.add(current)
            pending = [e.source for e in inputs.get(current, ()) if e.source not in depth]
            for source in pending:
                if source in visiting:
                    raise ValueError(f"circuit has a cycle through {source!r}")
            if pending:
                stack.extend(pending)
                continue
            depth[current] = 1 + max((depth[e.source] for e in inputs.get(current, ())), default=-1)
            visiting.discard(current)
            stack.pop()
        return depth[node_id]

    gate_ids = [n.id for n in nodes if n.gate_tex is not None]
    column = {n.id: 0 for n in nodes}
    for node_id in gate_ids:
        column[node_id] = max(deep(node_id), 1) if inputs.get(node_id) else 0
    # A leaf stands in the column just left of its earliest consumer rather than all leaves at the
    # far left: CS231n's circuits are two or three gates deep, where both read the same, but in a
    # deeper graph (a neuron's bias, an unrolled step's parameter) a leaf at the far left would
    # drag a long wire across every row between, and its numbers would sit far from the gate
    # they feed. Next to its gate, a leaf's wire is as short as any other.
    for node in nodes:
        if node.gate_tex is None and consumers[node.id]:
            column[node.id] = min(column[e.target] for e in consumers[node.id]) - 1
    last = max(column.values(), default=0)
    for node in nodes:  # the output rightmost (unless something uses it: then it stays left of that)
        if node.is_output and not consumers[node.id]:
            column[node.id] = last
    return column


#: a place in a column: a node's id, or (for a wire crossing the column) a dummy's key
Item = str


def _dummy(edge: CircuitEdge, col: int) -> Item:
    return f"{edge.source}>{edge.target}#{edge.slot}@{col}"


def _layered_graph(nodes, edges, column):
    """Columns of items (nodes and dummies), the segments between adjacent columns
    (source item, target item, slot or None for a dummy target), and each edge's route."""
    width = max(column.values(), default=0) + 1
    layers: list[list[Item]] = [[] for _ in range(width)]
    segments: list[tuple[Item, Item, CircuitEdge | None]] = []
    routes: dict[CircuitEdge, list[Item]] = {}
    for edge in sorted(edges, key=lambda e: (column[e.target], e.target, e.slot)):
        route = [_dummy(edge, c) for c in range(column[edge.source] + 1, column[edge.target])]
        routes[edge] = route
        chain = [edge.source, *route, edge.target]
        for a, b in zip(chain, chain[1:]):
            segments.append((a, b, edge if b == edge.target else None))
    # initial order: first visit in a walk from the output, arguments in slot order (for a tree
    # this is already crossing-free); nodes the walk does not reach follow in input order
    placed: set[Item] = set()
    incoming: dict[Item, list[Item]] = {}
    for a, b, edge in sorted(segments, key=lambda s: (s[2].slot if s[2] else 0)):
        incoming.setdefault(b, []).append(a)
    by_col = dict(column)
    for edge, route in routes.items():
        for c, item in zip(range(column[edge.source] + 1, column[edge.target]), route):
            by_col[item] = c
    starts = [n.id for n in nodes if n.is_output] + [n.id for n in reversed(nodes)]
    for start in starts:
        stack = [start]
        while stack:
            item = stack.pop()
            if item in placed:
                continue
            placed.add(item)
            layers[by_col[item]].append(item)
            stack.extend(reversed(incoming.get(item, [])))
    return layers, segments, routes


def _slot_offset(edge: CircuitEdge | None, inputs_count: int) -> float:
    """Where a port lies among a gate's ports, as a fraction of a row: the first at the top."""
    if edge is None or inputs_count <= 1:
        return 0.0
    return (edge.slot + 1) / (inputs_count + 1) - 0.5


def _order_rows(layers, segments, inputs) -> None:
    """Order each column (in place) to reduce crossings: barycentre sweeps right and back, the
    ordering with the fewest crossings kept, then adjacent swaps while they help (Gansner et
    al.'s "transpose"). Two wires crossing just before the gate they both enter — their arrows
    crossed at its ports — count double: a crossing reads worst there."""
    count = {target: len(edges) for target, edges in inputs.items()}
    into: dict[Item, list[tuple[Item, float]]] = {}
    out_of: dict[Item, list[tuple[Item, float]]] = {}
    gap_segments: list[list[tuple[Item, Item, float]]] = [[] for _ in layers]
    column_of = {item: c for c, layer in enumerate(layers) for item in layer}
    for a, b, edge in segments:
        offset = _slot_offset(edge, count.get(edge.target, 1) if edge else 1)
        into.setdefault(b, []).append((a, offset))
        out_of.setdefault(a, []).append((b, offset))
        gap_segments[column_of[a]].append((a, b, offset))
    pos = {item: i for layer in layers for i, item in enumerate(layer)}

    def gap_crossings(c: int) -> int:
        """Crossings between column c and c + 1."""
        if not 0 <= c < len(layers):
            return 0
        total = 0
        pairs = gap_segments[c]
        for i, (a1, b1, f1) in enumerate(pairs):
            for a2, b2, f2 in pairs[i + 1 :]:
                if (pos[a1] - pos[a2]) * (pos[b1] + f1 - pos[b2] - f2) < 0:
                    total += 2 if b1 == b2 else 1
        return total

    def crossings() -> int:
        return sum(gap_crossings(c) for c in range(len(layers)))

    def reorder(c: int, order: list[Item]) -> None:
        layers[c][:] = order
        pos.update({item: i for i, item in enumerate(order)})

    best = [list(layer) for layer in layers]
    best_count = crossings()
    for _ in range(4):
        for rightward in (True, False):
            for c in range(1, len(layers)) if rightward else range(len(layers) - 2, -1, -1):
                def key(item: Item, i: int) -> float:
                    neighbours = into.get(item) if rightward else out_of.get(item)
                    if not neighbours:
                        return float(i)
                    if rightward:
                        return sum(pos[a] - offset for a, offset in neighbours) / len(neighbours)
                    return sum(pos[b] + offset for b, offset in neighbours) / len(neighbours)

                reorder(c, [item for _, _, item in sorted((key(item, i), i, item) for i, item in enumerate(layers[c]))])
            now = crossings()
            if now < best_count:
                best, best_count = [list(layer) for layer in layers], now
    for c, layer in enumerate(best):
        reorder(c, layer)
    improved = True
    while improved:
        improved = False
        for c, layer in enumerate(layers):
            for i in range(len(layer) - 1):
                before = gap_crossings(c - 1) + gap_crossings(c)
                swapped = layer[:i] + [layer[i + 1], layer[i]] + layer[i + 2 :]
                kept = list(layer)
                reorder(c, swapped)
                if gap_crossings(c - 1) + gap_crossings(c) < before:
                    improved = True
                    layer = layers[c]
                else:
                    reorder(c, kept)
                    layer = layers[c]


def _heights(layers, segments, port_dy, real: set[str]) -> dict[Item, float]:
    """Heights of the items. Each column keeps its order and its pitch (two nodes ROW_PITCH apart,
    a passing wire less); within that, sweeps right to left put each item level with the ports it
    feeds (a tree fans out from the output), and sweeps left to right put each gate level with its
    inputs (a chain of one-input gates runs straight, a two-input gate sits between its inputs).
    Each column's heights are the least-squares fit to those wishes under its order and pitch,
    solved exactly by pool-adjacent-violators. The last sweep runs left to right."""
    half = {item: (ROW_PITCH / 2 if item in real else DUMMY_HALF) for layer in layers for item in layer}
    y: dict[Item, float] = {}
    for layer in layers:
        offsets = _cumulative(layer, half)
        mid = (offsets[-1] if offsets else 0) / 2
        for item, offset in zip(layer, offsets):
            y[item] = mid - offset
    from_inputs: dict[Item, list[tuple[Item, float]]] = {}
    from_consumers: dict[Item, list[tuple[Item, float]]] = {}
    for a, b, edge in segments:
        dy = port_dy[(edge.target, edge.slot)] if edge else 0.0
        from_inputs.setdefault(b, []).append((a, -dy))  # b's stem level with a's, less the port's offset
        from_consumers.setdefault(a, []).append((b, dy))  # a's stem level with the port it enters
    columns = list(range(len(layers)))
    for sweep in range(8):
        leftward = sweep % 2 == 0
        pulls = from_consumers if leftward else from_inputs
        for c in reversed(columns) if leftward else columns:
            layer = layers[c]
            wanted = []
            for item in layer:
                terms = pulls.get(item)
                wanted.append(sum(y[o] + d for o, d in terms) / len(terms) if terms else y[item])
            offsets = _cumulative(layer, half)
            fitted = _non_increasing([w + o for w, o in zip(wanted, offsets)])
            for item, value, offset in zip(layer, fitted, offsets):
                y[item] = value - offset
    return y


def _cumulative(layer: list[Item], half: dict[Item, float]) -> list[float]:
    offsets = [0.0]
    for a, b in zip(layer, layer[1:]):
        offsets.append(offsets[-1] + half[a] + half[b])
    return offsets


def _non_increasing(targets: list[float]) -> list[float]:
    """The non-increasing sequence nearest to ``targets`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [sum, count]
    for t in targets:
        blocks.append([t, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
    out: list[float] = []
    for s, n in blocks:
        out.extend([s / n] * int(n))
    return out


def _fits(symbol: str, pt: int) -> float:
    """The radius of the smallest circle around ``symbol`` set at ``pt`` points, with room."""
    return math.hypot(text_width(symbol, pt * PT) / 2, 0.4 * pt * PT) + GATE_PAD


def _gate_radius(nodes: Sequence[CircuitNode]) -> float:
    """One radius for every gate, so the picture is regular: every symbol fits at \\small if that
    needs no more than MAX_RADIUS (a long one is set smaller: :func:`_gate_pt`), and at
    \\scriptsize in any case."""
    symbols = [n.gate_text or "" for n in nodes if n.gate_tex is not None]
    at_small = max((_fits(s, GATE_PTS[0]) for s in symbols), default=0.0)
    at_least = max((_fits(s, GATE_PTS[-1]) for s in symbols), default=0.0)
    return _round(max(MIN_RADIUS, min(at_small, MAX_RADIUS), at_least))


def _gate_pt(node: CircuitNode, radius: float) -> int:
    if node.gate_tex is None:
        return 0
    return next((pt for pt in GATE_PTS if _fits(node.gate_text or "", pt) <= radius + 1e-9), GATE_PTS[-1])


def _port_angle(slot: int, count: int) -> float:
    """The angle (degrees, counter-clockwise from +x) where the ``slot``-th of ``count`` inputs enters."""
    if count <= 1:
        return 180.0
    spread = min(PORT_SPREAD * (count - 1), 70.0)
    return 180.0 - spread + 2 * spread * slot / (count - 1)


def _clear(a: Point, b: Point, centres: list[Point], radius: float, boxes: list[Box]) -> bool:
    """Whether the segment a–b keeps clear of every circle (with a margin) and every box."""
    if any(_distance(centre, a, b) < radius + GATE_PAD for centre in centres):
        return False
    return not any(box.crossed_by(a, b) for box in boxes)


def _without_bends_of_zero(points: list[Point]) -> tuple[Point, ...]:
    """The polyline without repeated points and without middle points on a straight stretch."""
    out: list[Point] = []
    for point in points:
        if out and math.isclose(out[-1][0], point[0], abs_tol=1e-9) and math.isclose(out[-1][1], point[1], abs_tol=1e-9):
            continue
        if len(out) >= 2:
            (x0, y0), (x1, y1) = out[-2], out[-1]
            if abs((x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0)) < 1e-9:
                out[-1] = point
                continue
        out.append(point)
    return tuple(out)


def _geometry(by_id, inputs, consumers, layers, routes, heights, radius, port_dy) -> CircuitLayout:
    """Columns' x, then every stem, connector and label, shifted so the picture starts at (0, 0)."""
    r = radius
    stem: list[float] = []
    for layer in layers:
        widths = [max(text_width(by_id[i].value, NUMBER_EM), text_width(by_id[i].gradient, NUMBER_EM)) for i in layer if i in by_id]
        stem.append(max([MIN_STEM] + [w + 2 * STEM_PAD for w in widths]))
    column_of = {item: c for c, layer in enumerate(layers) for item in layer}
    climb = [0.0] * len(layers)  # the largest height a wire out of column c climbs or drops
    for edge, route in routes.items():
        ys = [heights[i] for i in (edge.source, *route, edge.target)]
        ys[-1] += port_dy[(edge.target, edge.slot)]
        for c, (a, b) in enumerate(zip(ys, ys[1:]), start=column_of[edge.source]):
            climb[c] = max(climb[c], abs(a - b))
    xs: list[float] = []
    for c, layer in enumerate(layers):
        if c == 0:
            xs.append(0.0)
            continue
        stem_end = xs[-1] + r + stem[c - 1]
        names = [text_width(by_id[i].name_text, NAME_EM) for i in layer if i in by_id and by_id[i].gate_tex is None]
        run = min(max(CONNECTOR_RUN, climb[c - 1] / STEEPEST), LONGEST_RUN)
        need = stem_end + run + r
        if names:
            need = max(need, stem_end + STEM_PAD + max(names) - r + LABEL_SEP)
        xs.append(need)

    placed: list[PlacedNode] = []
    where: dict[Item, tuple[int, float]] = {}  # item → (column, y)
    for c, layer in enumerate(layers):
        row = 0
        for item in layer:
            where[item] = (c, heights[item])
            if item in by_id:
                placed.append(PlacedNode(by_id[item], c, row, xs[c], heights[item], xs[c] + r + stem[c], _gate_pt(by_id[item], r)))
                row += 1

    labels_raw, wires_raw, branches_raw = [], [], []
    for p in placed:
        node = p.node
        start = p.x + r
        mid = (start + p.stem_end) / 2
        wv = text_width(node.value, NUMBER_EM)
        wg = text_width(node.gradient, NUMBER_EM)
        labels_raw.append(Label("value", node.id, node.value, node.value, mid, p.y, Box(mid - wv / 2, p.y, mid + wv / 2, p.y + LABEL_HEIGHT)))
        labels_raw.append(Label("gradient", node.id, node.gradient, node.gradient, mid, p.y, Box(mid - wg / 2, p.y - LABEL_HEIGHT, mid + wg / 2, p.y)))
        if not p.is_gate:
            wn = text_width(node.name_text, NAME_EM) + 2 * LABEL_SEP
            labels_raw.append(Label("input", node.id, node.name_tex, node.name_text, start, p.y, Box(start - wn, p.y - NAME_HEIGHT / 2, start, p.y + NAME_HEIGHT / 2)))
        end = p.stem_end
        if node.is_output:
            wn = text_width(node.name_text, NAME_EM) + 2 * LABEL_SEP
            x0 = end + OUTPUT_GAP
            labels_raw.append(Label("output", node.id, node.name_tex, node.name_text, x0, p.y, Box(x0, p.y - NAME_HEIGHT / 2, x0 + wn, p.y + NAME_HEIGHT / 2)))
        wires_raw.append(Wire(node.id, None, None, ((start, p.y), (end, p.y)), node.is_output))
        if len(consumers[node.id]) >= 2 or (node.is_output and consumers[node.id]):
            branches_raw.append((end, p.y))
    gates = {p.node.id: p for p in placed}
    for edge in sorted(routes, key=lambda e: (gates[e.source].column, gates[e.source].row, gates[e.target].column, gates[e.target].row, e.slot)):
        source = gates[edge.source]
        points: list[Point] = [(source.stem_end, source.y)]
        for item in routes[edge]:
            c, y = where[item]
            points += [(xs[c] - r - LEAD, y), (xs[c] + r + stem[c], y)]
        target = gates[edge.target]
        angle = math.radians(_port_angle(edge.slot, len(inputs[edge.target])))
        port = (target.x + r * math.cos(angle), target.y + r * math.sin(angle))
        # straight into the port, as CS231n draws it, unless that cuts a gate or a label: then
        # level for the last stretch, which stays left of every circle of the column
        others = [(p.x, p.y) for p in placed if p.is_gate and p.node.id != edge.target]
        if _clear(points[-1], port, others, r, [lab.box for lab in labels_raw]):
            points.append(port)
        else:
            points += [(target.x - r - LEAD, port[1]), port]
        wires_raw.append(Wire(edge.source, edge.target, edge.slot, _without_bends_of_zero(points), True))

    # shift: everything drawn starts at x, y >= 0
    extent_boxes = [lab.box for lab in labels_raw] + [Box(p.x - r, p.y - r, p.x + r, p.y + r) for p in placed if p.is_gate]
    extent_boxes += [Box(x, y, x, y) for w in wires_raw for x, y in w.points]
    dx = -min(b.left for b in extent_boxes)
    dy = -min(b.bottom for b in extent_boxes)

    def pt(point: Point) -> Point:
        return (_round(point[0] + dx), _round(point[1] + dy))

    def bx(box: Box) -> Box:
        return Box(_round(box.left + dx), _round(box.bottom + dy), _round(box.right + dx), _round(box.top + dy))

    nodes_out = tuple(PlacedNode(p.node, p.column, p.row, _round(p.x + dx), _round(p.y + dy), _round(p.stem_end + dx), p.gate_pt) for p in placed)
    labels_out = tuple(Label(lab.kind, lab.node_id, lab.tex, lab.text, _round(lab.x + dx), _round(lab.y + dy), bx(lab.box)) for lab in labels_raw)
    wires_out = tuple(Wire(w.source, w.target, w.slot, tuple(pt(q) for q in w.points), w.arrow) for w in wires_raw)
    extent = Box(0.0, 0.0, _round(max(b.right for b in extent_boxes) + dx), _round(max(b.top for b in extent_boxes) + dy))
    return CircuitLayout(nodes_out, wires_out, labels_out, tuple(pt(b) for b in branches_raw), r, extent)


# ---------------------------------------------------------------------------
# TikZ
# ---------------------------------------------------------------------------

GREEN_TIKZ = "green!45!black"
RED_TIKZ = "red!75!black"
#: the same colours as SVG hex: 45 % green + 55 % black, 75 % red + 25 % black
GREEN_SVG = "#007300"
RED_SVG = "#bf0000"


def _num(v: float) -> str:
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _at(point: Point) -> str:
    return f"({_num(point[0])},{_num(point[1])})"


def tikz(layout: CircuitLayout) -> str:
    """The circuit as a ``tikzpicture`` in plain TikZ (no library: the ``stealth`` tip is TikZ's
    own); it needs only ``\\usepackage{tikz}`` and ``amsmath``. Coordinates are centimetres."""
    r = layout.radius
    lines = [
        r"\begin{tikzpicture}[x=1cm, y=1cm, >=stealth, line cap=round, line join=round,",
        rf"  gate/.style={{circle, draw, thick, fill=white, inner sep=0pt, minimum size={_num(2 * r)}cm, font=\small}},",
        rf"  value/.style={{anchor=south, inner sep=1pt, font=\footnotesize, text={GREEN_TIKZ}}},",
        rf"  gradient/.style={{anchor=north, inner sep=1pt, font=\footnotesize, text={RED_TIKZ}}},",
        r"  input/.style={anchor=east, inner sep=1pt},",
        r"  output/.style={anchor=west, inner sep=1pt}]",
    ]
    for wire in layout.wires:
        path = " -- ".join(_at(p) for p in wire.points)
        lines.append(rf"\draw{'[->]' if wire.arrow else ''} {path};")
    for point in layout.branches:
        lines.append(rf"\fill {_at(point)} circle[radius=1.3pt];")
    for p in layout.nodes:
        if p.is_gate:
            size = "" if p.gate_pt == GATE_PTS[0] else f", font={GATE_SIZE_TEX[p.gate_pt]}"
            lines.append(rf"\node[gate{size}] (g{p.node.id}) at {_at((p.x, p.y))} {{${p.node.gate_tex}$}};")
    for lab in layout.labels:
        lines.append(rf"\node[{lab.kind}] at {_at((lab.x, lab.y))} {{${lab.tex}$}};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------

SVG_SCALE = 45.0  # px per cm
SVG_MARGIN = 0.15  # cm around the extent
#: an SVG viewer's fonts (DejaVu: digits 0.64 em; Arial, Helvetica: 0.56 em) run wider than
#: Computer Modern's; set a little smaller, they stay inside the boxes the layout estimated
SVG_FONT_SCALE = 0.86


def _svg_text(text: str) -> str:
    """A string for an SVG text node: escaped (names come from users' files), and a hyphen
    printed as the minus sign TeX sets."""
    return escape(text.replace("-", "\u2212"), {'"': "&quot;", "'": "&apos;"})


#: the fonts the labels are measured for: DejaVu's (Debian's default), named first so that a machine
#: whose generic sans-serif is another family (Noto, with a taller line) keeps value and gradient apart
SVG_FONTS = {"sans-serif": "DejaVu Sans, sans-serif", "serif": "DejaVu Serif, serif"}


def svg(layout: CircuitLayout, *, id_prefix: str = "circuit") -> str:
    """The same drawing as a standalone SVG document (every text escaped for XML): names in an
    italic serif as math sets them, numbers in a sans-serif. ``id_prefix`` keeps the arrowhead's
    id apart when several circuits share one HTML page."""
    if not _SAFE_ID.fullmatch(id_prefix):
        raise ValueError(f"SVG id prefix {id_prefix!r} is not [A-Za-z0-9]+")
    k = SVG_SCALE
    top = layout.extent.top + SVG_MARGIN

    def X(x: float) -> str:
        return _num((x + SVG_MARGIN) * k)

    def Y(y: float) -> str:
        return _num((top - y) * k)

    def text(x: float, baseline: float, content: str, anchor: str, font: str, em: float, extra: str = "") -> str:
        size = _num(em * k * SVG_FONT_SCALE)
        family = SVG_FONTS[font]
        return f'<text x="{X(x)}" y="{Y(baseline)}" text-anchor="{anchor}" font-family="{family}" font-size="{size}"{extra}>{_svg_text(content)}</text>'

    width = _num((layout.extent.right + 2 * SVG_MARGIN) * k)
    height = _num((layout.extent.top + 2 * SVG_MARGIN) * k)
    arrow = f"{id_prefix}-arrow"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        "<defs>",
        f'<marker id="{arrow}" viewBox="0 0 10 10" refX="9.5" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
        '<path d="M0,1 L10,5 L0,9 L3,5 z" fill="black"/></marker>',
        "</defs>",
        '<g fill="none" stroke="black" stroke-width="1" stroke-linecap="round" stroke-linejoin="round">',
    ]
    for wire in layout.wires:
        points = " ".join(f"{X(x)},{Y(y)}" for x, y in wire.points)
        marker = f' marker-end="url(#{arrow})"' if wire.arrow else ""
        out.append(f'<polyline points="{points}"{marker}/>')
    out.append("</g>")
    for x, y in layout.branches:
        out.append(f'<circle cx="{X(x)}" cy="{Y(y)}" r="{_num(1.3 * PT * k)}" fill="black"/>')
    for p in layout.nodes:
        if p.is_gate:
            out.append(f'<circle cx="{X(p.x)}" cy="{Y(p.y)}" r="{_num(layout.radius * k)}" fill="white" stroke="black" stroke-width="1.5"/>')
            out.append(text(p.x, p.y - p.gate_pt * PT * 0.3, p.node.gate_text or "", "middle", "serif", p.gate_pt * PT))
    for lab in layout.labels:
        if lab.kind == "value":  # sits on its wire
            out.append(text(lab.x, lab.y + 1.5 * LABEL_SEP, lab.text, "middle", "sans-serif", NUMBER_EM, f' fill="{GREEN_SVG}"'))
        elif lab.kind == "gradient":  # hangs under its wire: baseline a cap height down
            out.append(text(lab.x, lab.y - 1.5 * LABEL_SEP - 0.75 * NUMBER_EM * SVG_FONT_SCALE, lab.text, "middle", "sans-serif", NUMBER_EM, f' fill="{RED_SVG}"'))
        elif lab.kind == "input":
            out.append(text(lab.x - 2.5 * LABEL_SEP, lab.y - 0.3 * NAME_EM, lab.text, "end", "serif", NAME_EM, ' font-style="italic"'))
        else:
            out.append(text(lab.x + LABEL_SEP, lab.y - 0.3 * NAME_EM, lab.text, "start", "serif", NAME_EM, ' font-style="italic"'))
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["CircuitNode", "CircuitEdge", "CircuitLayout", "PlacedNode", "Label", "Wire", "Box", "layout", "tikz", "svg"]
