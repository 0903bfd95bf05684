"""The figures as a reader sees them (issue 27): a convolution drawn (input grid, kernel, feature
map, the first window outlined); each weight's label beside its edge, never on a line; the descent
plot with round ticks, the function's level lines under a two-variable path, and the legend
outside the paths."""

from __future__ import annotations

import math
import re

import pytest

from conftest import ROOT, needs
from tracer import load, solve
from tracer.answers import descend
from tracer.render.calculus import SVG_MARGIN, SVG_WIDTH
from tracer.render.document import render
from tracer.render.edge_labels import Box

EXAMPLES = ROOT / "examples"


def test_a_convolution_is_drawn_input_kernel_and_feature_map():
    """On main a network with a conv2d layer had no figure. The 4×4 image, the 2×2 filter and the
    3×3 feature map of conv_maxpool.yaml: z1[1,1,1] = 0.5·1 − 0.25·0 + 0.3·0 + 0.6·1 + 0.1 = 1.2."""
    page = render(solve(load(EXAMPLES / "conv_maxpool.yaml")), "html")
    figure = re.search(r'<svg[^>]*class="convolution".*?</svg>', page, re.S).group(0)
    cells = re.findall(r'<text x="[^"]*" y="[^"]*" text-anchor="middle" font-size="13"[^>]*>([^<]*)</text>', figure)
    assert cells[:16] == ["1", "0", "2", "1", "0", "1", "3", "0", "2", "1", "0", "1", "1", "3", "1", "2"]  # the image, row by row
    assert cells[16:20] == ["0.5", "−0.25", "0.3", "0.6"]  # the kernel
    assert cells[20] == "1.2" and len(cells) == 16 + 4 + 9  # the feature map's first entry: the window's sum
    windows = re.findall(r'<rect x="[^"]*" y="[^"]*" width="(\d+)" height="(\d+)" fill="none" stroke="#c0392b"', figure)
    assert windows == [("80", "80"), ("40", "40")]  # the 2×2 window in the input, its cell in the map
    assert "<figcaption>The first window (2×2) of the input" in page


def test_a_padded_convolution_shades_its_padding():
    page = render(solve(load(EXAMPLES / "conv_stride_padding.yaml")), "html")
    figure = re.search(r'<svg[^>]*class="convolution".*?</svg>', page, re.S).group(0)
    assert figure.count('fill="#eeeeee"') == 7 * 7 - 5 * 5  # the 5×5 image in a border of zeros
    assert "padding 1" in page and "stride 2" in page


@pytest.mark.latex
@needs("pdflatex")
def test_the_convolution_figure_compiles(tmp_path):
    from tracer.render.document import compile_pdf

    tex = render(solve(load(EXAMPLES / "conv_stride_padding.yaml")), "tex")
    assert r"{$\star$}" in tex and "rectangle (3,-3)" in tex  # the 3×3 window of the padded input
    assert compile_pdf(tex, tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


def _label_boxes(svg: str):
    """Each edge label of the network's SVG as a turned box, and every edge line."""
    lines = [tuple(map(float, m)) for m in re.findall(r'<line x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)"', svg)]
    boxes = []
    for tx, ty, angle, x, y, w, h in re.findall(r'<g transform="translate\(([^,]+),([^)]+)\) rotate\(([^)]+)\)"><foreignObject x="([^"]+)" '
                                                 r'y="([^"]+)" width="([^"]+)" height="([^"]+)"', svg):
        a = math.radians(float(angle))
        cx, cy = float(x) + float(w) / 2, float(y) + float(h) / 2  # in the label's turned frame
        boxes.append(Box(float(tx) + cx * math.cos(a) - cy * math.sin(a), float(ty) + cx * math.sin(a) + cy * math.cos(a),
                         float(w) / 2 - 4, float(h) / 2 - 4, a))  # the box less its padding: the label itself
    return lines, boxes


@pytest.mark.parametrize("example", ["mazur.yaml", "perceptron_xor.yaml", "xor.yaml"])
def test_each_weight_label_stands_beside_its_edge(example):
    """On main the labels of crossing edges sat on the lines (Mazur's w2 on w3's, perceptron_xor's
    w[1]_{2,1} on w[1]_{1,2}'s): no line of the figure runs through a label, no two labels overlap."""
    page = render(solve(load(EXAMPLES / example)), "html")
    svg = re.search(r'<svg[^>]*class="network".*?</svg>', page, re.S).group(0)
    lines, boxes = _label_boxes(svg)
    assert boxes and len(boxes) == len(lines)
    for n, box in enumerate(boxes):
        assert not [k for k, line in enumerate(lines) if box.crosses(*line)], (example, n)
        assert not [k for k, other in enumerate(boxes) if k != n and box.overlaps(other)], (example, n)


def _ticks(svg: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for anchor, text in re.findall(r'text-anchor="(middle|end)" class="tick">([^<]+)<', svg):
        (xs if anchor == "middle" else ys).append(float(text.replace("−", "-")))
    return xs, ys


def _round(values: list[float]) -> bool:
    step = values[1] - values[0]
    scale = 10 ** math.floor(math.log10(step))
    return round(step / scale, 6) in (1, 2, 2.5, 5) and all(abs(v / step - round(v / step)) < 1e-9 for v in values)


def test_the_descent_plot_has_round_ticks_level_lines_and_a_legend_outside():
    """On main: ticks at −4.513, −0.7926, 2.928; no level lines; the legend drawn over the paths."""
    compared = descend("x^2 + 3y^2", start={"x": -4, "y": 1}, lr=0.1, steps=8, optimizer="sgd,momentum,adam")
    from tracer.render.calculus import descents_svg

    svg = descents_svg(compared.runs)
    xs, ys = _ticks(svg)
    assert xs == [-4, -2, 0, 2] and ys == [-1, -0.5, 0, 0.5, 1]
    assert svg.count('class="contour"') >= 5  # the ellipses x² + 3y² = c around the minimum
    legend = [float(x) for x in re.findall(r'<text x="([^"]+)"[^>]*class="legend"', svg)]
    assert len(legend) == 3 and min(legend) > SVG_WIDTH - SVG_MARGIN  # right of the axes' frame
    one = descend("theta^2 - 2theta", start={"theta": -4}, lr=0.3, steps=6).runs[0]
    from tracer.render.calculus import descent_svg

    xs, ys = _ticks(descent_svg(one))
    assert _round(xs) and _round(ys) and len(xs) >= 3 and len(ys) >= 3
