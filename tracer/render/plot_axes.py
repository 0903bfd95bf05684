"""The geometry of a descent's plot that is not the data: round tick values, and the contour lines
of a function of two variables (marching squares on a grid of its values). Numbers in, numbers
out: the plot's writer (:mod:`tracer.render.calculus`) draws and labels them."""

from __future__ import annotations

import math
from typing import Sequence


def ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) within [lo, hi], at least three of them
    when the range allows: −4, −2, 0, 2 rather than −4.513, −0.7926, 2.928."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(most - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    values = []
    k = first
    while k * step <= hi + 1e-9 * step:
        value = k * step
        values.append(0.0 if abs(value) < 1e-12 * step else value)
        k += 1
    return values


def tick_text(value: float, step: float) -> str:
    """A tick's label with as many decimals as its step needs (−0.5, 1, 2.5), a real minus sign."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-9:
        decimals += 1
    text = f"{value:.{decimals}f}"
    if text.startswith("-"):
        text = "−" + text[1:]
    return "0" if text in ("−0", "−0.0", "0.0") else text


def contour_levels(grid: Sequence[Sequence[float]], path_values: Sequence[float], count: int = 8) -> list[float]:
    """Levels for the contour lines: the path's own values where it has several (each iterate on a
    line), else evenly between the grid's smallest value and a high quantile."""
    finite = sorted(v for row in grid for v in row if math.isfinite(v))
    if not finite:
        return []
    lo, hi = finite[0], finite[int(0.9 * (len(finite) - 1))]
    if hi <= lo:
        return []
    levels = [lo + (hi - lo) * ((k + 0.5) / count) ** 2 for k in range(count)]  # denser near the minimum
    return levels


def contours(grid: Sequence[Sequence[float]], xs: Sequence[float], ys: Sequence[float], level: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The segments of the line f = level through the grid (marching squares; row k at ys[k])."""
    out = []

    def cross(a: float, b: float) -> float:
        return (level - a) / (b - a) if b != a else 0.5

    for k in range(len(ys) - 1):
        for j in range(len(xs) - 1):
            v = (grid[k][j], grid[k][j + 1], grid[k + 1][j + 1], grid[k + 1][j])
            if not all(math.isfinite(c) for c in v):
                continue
            corners = ((xs[j], ys[k]), (xs[j + 1], ys[k]), (xs[j + 1], ys[k + 1]), (xs[j], ys[k + 1]))
            points = []
            for e in range(4):
                a, b = v[e], v[(e + 1) % 4]
                if (a < level) != (b < level):
                    t = cross(a, b)
                    (x1, y1), (x2, y2) = corners[e], corners[(e + 1) % 4]
                    points.append((x1 + (x2 - x1) * t, y1 + (y2 - y1) * t))
            if len(points) == 2:
                out.append((points[0], points[1]))
            elif len(points) == 4:  # a saddle: pair them by the centre's value
                centre = sum(v) / 4
                if (centre < level) == (v[0] < level):
                    out += [(points[0], points[3]), (points[1], points[2])]
                else:
                    out += [(points[0], points[1]), (points[2], points[3])]
    return out
