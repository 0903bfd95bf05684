"""The network's figure on the web page: the TikZ drawing's view (``diagram_view``) as inline SVG.

The same positions as the handout's figure (inputs on the left, a column per layer, each
weight's name and value along its edge at the position TikZ puts it, the biases under
their layer); the labels are MathML inside ``foreignObject`` so that they are typeset
as the equations are. Geometry only: every number shown is a ready string of the view.
"""

from __future__ import annotations

import math

from markupsafe import Markup

from tracer.render import edge_labels, mathml
from tracer.render.step_printer import tex_width

#: pixels per centimetre of the TikZ figure
SCALE = 62.0
#: the unit circles' radius (TikZ: minimum size 11 mm)
RADIUS = 0.55 * SCALE
MARGIN = 34.0
#: font sizes in px: unit names, edge labels (TikZ \scriptsize beside \small)
UNIT_PX, LABEL_PX = 15.0, 12.0


def _label(latex: str, px: float) -> tuple[Markup, float, float]:
    """A label's MathML (or its LaTeX as text, marked as a fallback) with its estimated box in px."""
    try:
        content = mathml.inline(latex)
    except mathml.NotConverted:
        content = mathml.text_fallback(latex)
    width = max(tex_width(latex), 1.0) * px * 0.92 + 8.0
    return content, width, px * 1.9


def _object(x: float, y: float, width: float, height: float, content: Markup, px: float, css: str) -> str:
    return (f'<foreignObject x="{x - width / 2:.1f}" y="{y - height / 2:.1f}" width="{width:.1f}" height="{height:.1f}">'
            f'<div xmlns="http://www.w3.org/1999/xhtml" class="{css}" style="font-size:{px:.0f}px">{content}</div></foreignObject>')


#: the labels' layout, which the web page's stylesheet gives them; a figure outside the page
#: (a Markdown document's) carries it in a <style> of its own
LABEL_CSS = ("svg.network foreignObject div { display: flex; align-items: center; justify-content: center; height: 100%; "
             "line-height: 1; white-space: nowrap; font-family: serif; }\n"
             "svg.network .edge-label math { background: rgba(255, 255, 255, 0.85); padding: 0 1px; }")
MATHML_NS = "http://www.w3.org/1998/Math/MathML"


def svg(diagram: dict, *, standalone: bool = False, id_prefix: str = "network") -> Markup:
    """The figure of :func:`tracer.render.document.diagram_view` as an ``<svg>`` element.

    ``standalone``: for a Markdown document (an ``.svg`` file beside it, or inline): the
    labels' stylesheet inside the figure, and each ``<math>`` with its namespace, so that the
    figure read as XML (an ``<img>``) still typesets its labels. ``id_prefix``: the arrowhead's id,
    apart for each figure when several share a page (a quiz's variants)."""
    if not (id_prefix.isascii() and id_prefix.isalnum()):
        raise ValueError(f"SVG id prefix {id_prefix!r} is not [A-Za-z0-9]+")
    nodes = {n["id"]: n for n in diagram["nodes"]}
    top = max(n["y"] for n in diagram["nodes"])
    bottom = min([n["y"] for n in diagram["nodes"]] + [b["y"] - 0.5 * len(b["lines"]) for b in diagram["biases"]])

    def X(x: float) -> float:
        return MARGIN + RADIUS + x * SCALE

    def Y(y: float) -> float:
        return MARGIN + RADIUS + (top - y) * SCALE

    width = X(diagram["width"]) + RADIUS + MARGIN
    height = Y(bottom) + MARGIN
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="network" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="the network">',
           f'<defs><marker id="{id_prefix}-arrow" viewBox="0 0 10 10" refX="9.5" refY="5" markerWidth="9" markerHeight="9" '
           'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 L3,5 z" fill="black"/></marker></defs>']
    if standalone:
        out.append(f"<style>{LABEL_CSS}</style>")
    labels = []
    for edge in diagram["edges"]:
        s, t = nodes[edge["source"]], nodes[edge["target"]]
        x1, y1, x2, y2 = X(s["x"]), Y(s["y"]), X(t["x"]), Y(t["y"])
        length = math.hypot(x2 - x1, y2 - y1)
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        out.append(f'<line x1="{x1 + ux * RADIUS:.1f}" y1="{y1 + uy * RADIUS:.1f}" x2="{x2 - ux * RADIUS:.1f}" '
                   f'y2="{y2 - uy * RADIUS:.1f}" stroke="black" stroke-width="1.1" marker-end="url(#{id_prefix}-arrow)"/>')
        if diagram["labelled"]:
            content, w, h = _label(f"{edge['label']} = {edge['value']}", LABEL_PX)
            # pos along the line as drawn, border to border (TikZ's pos)
            sx, sy, tx, ty = x1 + ux * RADIUS, y1 + uy * RADIUS, x2 - ux * RADIUS, y2 - uy * RADIUS
            px, py = sx + (tx - sx) * edge["pos"], sy + (ty - sy) * edge["pos"]
            angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
            # TikZ's sloped "above": on the upper side of the edge as it is read, left to right, a gap off the line
            gap = edge_labels.GAP * SCALE
            shift = -(h / 2 + gap) if edge["side"] == "above" else (h / 2 + gap)
            labels.append(f'<g transform="translate({px:.1f},{py:.1f}) rotate({angle:.2f})">'
                          + _object(0.0, shift, w, h, content, LABEL_PX, "edge-label") + "</g>")
    for node in diagram["nodes"]:
        x, y = X(node["x"]), Y(node["y"])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS:.1f}" fill="white" stroke="black" stroke-width="1.6"/>')
        content, w, h = _label(node["label"], UNIT_PX)
        labels.append(_object(x, y, max(w, 2 * RADIUS - 4), h, content, UNIT_PX, "unit-label"))
    for bias in diagram["biases"]:
        x, y = X(bias["x"]), Y(bias["y"])
        for k, line in enumerate(bias["lines"]):
            content, w, h = _label(line, LABEL_PX)
            labels.append(_object(x, y + h / 2 + k * h * 0.8, w, h, content, LABEL_PX, "bias-label"))
    if standalone:
        labels = [label.replace("<math>", f'<math xmlns="{MATHML_NS}">').replace('<math display="block">', f'<math xmlns="{MATHML_NS}" display="block">') for label in labels]
    out.extend(labels)  # over the edges
    out.append("</svg>")
    return Markup("\n".join(out))


__all__ = ["svg"]
