"""Where each weight's label goes along its edge in the network's figure: beside the edge, never on
a line, a unit or another label.

A label is a box along its edge (TikZ's ``sloped``), a small gap off the line on one side, at
``pos`` of the line as drawn, from the source's border to the target's (TikZ's ``pos``). For
each edge in turn the place is chosen from a few positions along it (``pos``) and the two sides:
the one whose box crosses the fewest other edges, units and labels already placed, and among
those the one nearest the middle of the edge. TikZ (``node[pos=…, above=…]``) and the web page's
SVG draw the box at the same place, so both figures keep their labels clear. Geometry only: the
sizes are estimates of the typeset label (:func:`tracer.render.step_printer.tex_width`), in cm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the label's height and the gap between it and its edge, in cm (the SVG's 12 px labels at 62 px/cm)
LABEL_HEIGHT = 0.37
GAP = 0.07
#: the units' radius in cm (TikZ: minimum size 11 mm)
UNIT_RADIUS = 0.55
POSITIONS = (0.5, 0.42, 0.58, 0.35, 0.65, 0.28, 0.72, 0.22, 0.78, 0.16, 0.84)
#: the clear space kept around a label, in cm: another edge passing closer than this counts as crossing it
CLEARANCE = 0.05


def label_width(tex_width: float) -> float:
    """A label's width in cm from its width in ems: TikZ's ``\\scriptsize`` in an 11pt document, about
    0.3 cm an em, and a little room (the web page's 12 px labels are narrower: the larger one decides)."""
    return tex_width * 0.3 + 0.12


@dataclass(frozen=True)
class Box:
    """A rectangle of half-sizes ``hw`` × ``hh`` centred at (cx, cy), turned by ``angle`` (radians)."""

    cx: float
    cy: float
    hw: float
    hh: float
    angle: float

    def local(self, x: float, y: float) -> tuple[float, float]:
        dx, dy = x - self.cx, y - self.cy
        c, s = math.cos(self.angle), math.sin(self.angle)
        return dx * c + dy * s, -dx * s + dy * c

    def corners(self) -> list[tuple[float, float]]:
        c, s = math.cos(self.angle), math.sin(self.angle)
        return [(self.cx + u * c - v * s, self.cy + u * s + v * c) for u, v in
                ((-self.hw, -self.hh), (self.hw, -self.hh), (self.hw, self.hh), (-self.hw, self.hh))]

    def crosses(self, x1: float, y1: float, x2: float, y2: float) -> bool:
        """Does the segment pass through the box?"""
        return self.inside(x1, y1, x2, y2) > 0.0

    def inside(self, x1: float, y1: float, x2: float, y2: float) -> float:
        """How much of the segment runs through the box, in cm (Liang–Barsky in the box's own frame)."""
        (ax, ay), (bx, by) = self.local(x1, y1), self.local(x2, y2)
        t0, t1 = 0.0, 1.0
        dx, dy = bx - ax, by - ay
        for p, q in ((-dx, ax + self.hw), (dx, self.hw - ax), (-dy, ay + self.hh), (dy, self.hh - ay)):
            if abs(p) < 1e-12:
                if q < 0:
                    return 0.0
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return 0.0
        return (t1 - t0) * math.hypot(dx, dy)

    def touches_circle(self, x: float, y: float, r: float) -> bool:
        u, v = self.local(x, y)
        du, dv = max(abs(u) - self.hw, 0.0), max(abs(v) - self.hh, 0.0)
        return du * du + dv * dv < r * r

    def overlaps(self, other: "Box") -> bool:
        """Separating-axis test of two turned rectangles."""
        for box in (self, other):
            for axis in (box.angle, box.angle + math.pi / 2):
                ux, uy = math.cos(axis), math.sin(axis)
                a = [x * ux + y * uy for x, y in self.corners()]
                b = [x * ux + y * uy for x, y in other.corners()]
                if max(a) <= min(b) or max(b) <= min(a):
                    return False
        return True


def box_at(x1: float, y1: float, x2: float, y2: float, pos: float, side: str, width: float,
           height: float = LABEL_HEIGHT, gap: float = GAP) -> Box:
    """The label's box on the edge (x1, y1) → (x2, y2), y upwards as TikZ draws: ``above`` is the
    side on the left of the edge read from its start (TikZ's sloped ``above``)."""
    angle = math.atan2(y2 - y1, x2 - x1)
    if math.cos(angle) < -1e-9:  # TikZ turns a label so that it reads left to right
        angle += math.pi
    nx, ny = -math.sin(angle), math.cos(angle)
    offset = (height / 2 + gap) * (1 if side == "above" else -1)
    px, py = x1 + (x2 - x1) * pos, y1 + (y2 - y1) * pos
    return Box(px + nx * offset, py + ny * offset, width / 2, height / 2, angle)


def place(nodes: dict[str, tuple[float, float]], edges: list[dict], widths: list[float]) -> list[tuple[float, str]]:
    """(pos, side) for each edge (``source``, ``target`` ids into ``nodes``), chosen in turn (see the module)."""
    segments = []
    for e in edges:
        (x1, y1), (x2, y2) = nodes[e["source"]], nodes[e["target"]]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        segments.append((x1 + ux * UNIT_RADIUS, y1 + uy * UNIT_RADIUS, x2 - ux * UNIT_RADIUS, y2 - uy * UNIT_RADIUS))
    placed: list[Box] = []
    out: list[tuple[float, str]] = []
    for k, width in enumerate(widths):
        x1, y1, x2, y2 = segments[k]  # pos runs along the drawn line, border to border, as TikZ's does
        best = None
        for pos in POSITIONS:
            for side in ("above", "below"):
                box = box_at(x1, y1, x2, y2, pos, side, width)
                room = Box(box.cx, box.cy, box.hw + CLEARANCE, box.hh + CLEARANCE, box.angle)
                # a line through the label counts, the more the longer it runs inside it
                cost = sum(4 + 4 * room.inside(*seg) for m, seg in enumerate(segments) if m != k and room.crosses(*seg))
                cost += 4 * sum(room.overlaps(other) for other in placed)
                cost += 4 * sum(room.touches_circle(x, y, UNIT_RADIUS) for x, y in nodes.values())
                cost += abs(pos - 0.5) + (0.01 if side == "below" else 0.0)
                if best is None or cost < best[0]:
                    best = (cost, pos, side, box)
        assert best is not None
        out.append((best[1], best[2]))
        placed.append(best[3])
    return out
