"""The feature-map section of a network with conv2d and pooling layers: each layer's input,
kernels, outputs and their gradients as grids of numbers, and the two identities a textbook
states in matrix form — ∂J/∂W = x ⋆ δ (a valid cross-correlation) and ∂J/∂x = δ ⋆ rot180(W)
(a full convolution) — with the engine's numbers (checked equal by :mod:`tracer.core.verify`).

Views only: every number comes from the solution's :class:`~tracer.core.solution.FeatureMaps`
(the engine's arrays, first sample); this module formats them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer import keys
from tracer.core.solution import FeatureMaps, Solution
from tracer.notation import blocks
from tracer.render.step_printer import Printer

#: a grid wider or taller than this is shown elided
MAX_GRID = 12
#: significant digits in the grids
DIGITS = 4
#: columns shown at most (a row of ten 4-digit numbers with signs is wider than the page)
MAX_COLUMNS = 8


#: a grid larger than MAX_GRID shows its first rows and columns and its last (the JSON has every number)
SHOWN = 5


def _kept(size: int, limit: int = MAX_GRID) -> list[int | None]:
    """The indices shown of a side: all, or the first SHOWN, a gap (None) and the last."""
    return list(range(size)) if size <= limit else list(range(SHOWN)) + [None, size - 1]


def grid_cells(values: np.ndarray, p: Printer) -> list[list[str]]:
    """A 2-d array as rows of formatted cells, elided beyond MAX_GRID rows or MAX_COLUMNS columns."""
    latex = p.dialect == "latex"
    across, down, both = (r"\cdots", r"\vdots", r"\ddots") if latex else ("…", "⋮", "⋱")

    def cell(i: int | None, j: int | None) -> str:
        if i is None:
            return both if j is None else down
        return across if j is None else p.number(float(values[i, j]))

    cells = [[cell(i, j) for j in _kept(values.shape[1], MAX_COLUMNS)] for i in _kept(values.shape[0])]
    if p.dialect == "text":  # columns aligned on the page
        widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
        cells = [[cell.rjust(w) for cell, w in zip(row, widths)] for row in cells]
    return cells


class _Names:
    """The grids' names in one dialect: ``x[1,:,:]`` in text, ``x_{1,:,:}`` in LaTeX (the theme's blocks,
    :data:`tracer.notation.blocks.GRID`: layers in brackets, gradients of ``J``)."""

    def __init__(self, latex: bool, names):
        self.latex = latex
        self.names = names
        self.dialect = "latex" if latex else "text"

    def block(self, b: keys.Block) -> str:
        """A whole vector or matrix: ``W^{[2]}``, ``\\delta^{[2]}``; in text run together, ``W2``, ``δ2``."""
        symbol = self.names.block(b, blocks.GRID)
        return symbol.latex() if self.latex else symbol.compact()

    def of(self, name: str, layer: int | None, *index: int) -> str:
        if self.latex:
            return self.block(keys.Block(name, layer, lead=index))
        where = ",".join(str(i) for i in index) + ",:,:"
        return f"{name}{layer if layer is not None else ''}[{where}]"

    def reads(self, maps: FeatureMaps, c: int) -> str:
        return self.of("x", None, c) if maps.reads == "x" else self.of("a", int(maps.reads[1:]), c)

    def gradient(self, of: str) -> str:
        d = self.operator("partial")
        assert blocks.GRID.loss is not None
        loss = blocks.GRID.loss.latex if self.latex else "loss"  # text: the canonical name (dloss/dW2)
        return rf"\frac{{{d} {loss}}}{{{d} {of}}}" if self.latex else f"d{loss}/d{of}"

    def operator(self, name: str) -> str:
        return self.names.operator(name, self.dialect)

    def op(self, text: str, latex: str) -> str:
        return latex if self.latex else text


def _pair(value: tuple[int, int]) -> str:
    """``2`` for (2, 2), ``(1, 2)`` otherwise (as torch prints a pair)."""
    return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"


def _plain(maps: FeatureMaps) -> bool:
    """Stride 1 and no dilation: the gradients are the textbook's cross-correlation and full convolution."""
    return maps.stride == (1, 1) and maps.dilation == (1, 1)


def _geometry(maps: FeatureMaps, latex: bool = False) -> str:
    """``stride 2, padding 1`` for a convolution, then what is not torch's default:
    ``, dilation 2, ceil mode``; a pooling layer's ``window 2×3, stride (1, 2), …`` only where
    anything is not the plain square window."""
    parts = [f"stride {_pair(maps.stride)}", f"padding {_pair(maps.padding)}"]
    if maps.kind != "conv2d":
        parts = [f"window {maps.window[0]}×{maps.window[1]}", parts[0]] + (parts[1:] if maps.padding != (0, 0) else [])
    if maps.dilation != (1, 1):
        parts.append(f"dilation {_pair(maps.dilation)}")
    if maps.ceil_mode:
        parts.append("ceil mode" if latex else "ceil mode (torch's ceil_mode)")
    return ", ".join(parts)


def _plain_window(maps: FeatureMaps) -> bool:
    return maps.padding == (0, 0) and maps.dilation == (1, 1) and not maps.ceil_mode and maps.window[0] == maps.window[1]


def _unread_note(maps: FeatureMaps) -> str:
    """Where the floor of the output size leaves input rows or columns that no window reads."""
    rows, cols = maps.unread
    if not rows and not cols:
        return ""
    sides = [f"the last {'row' if rows == 1 else f'{rows} rows'}" if rows else "", f"the last {'column' if cols == 1 else f'{cols} columns'}" if cols else ""]
    what = " and ".join(side for side in sides if side)
    name = "x" if maps.reads == "x" else maps.reads
    return (f"; {what} of {name}: read by no window (the output size is rounded down, as torch does), "
            f"so no output depends on them and their gradient through this layer is 0")


def feature_map_views(solution: Solution, p: Printer) -> list[dict[str, Any]]:
    """Per conv2d/pooling layer: a title, a note, and rows ``{lhs, rule, grid}`` (forward, then backward)."""
    if not solution.steps or not solution.steps[0].derived:
        return []
    p = Printer(p.dialect, p.names, min(p.digits, DIGITS))  # grids side by side: fewer digits (the equations have them all)
    n = _Names(p.dialect == "latex", p.names)
    samples = len(solution.problem.data)
    views = []
    for maps in solution.steps[0].feature_maps:
        rows: list[dict[str, Any]] = []

        def row(lhs: str, rule: str, grid: np.ndarray) -> None:
            rows.append({"lhs": lhs, "rule": rule, "substituted": "", "grid": grid_cells(grid, p)})

        l = maps.layer
        if maps.kind == "dense":  # the δ form: vectors as rows, ∂J/∂W = δ·aᵀ
            assert maps.kernel is not None and maps.kernel_gradient is not None and maps.z is not None
            T = n.operator("transpose")
            vec = n.block(keys.Block("x", None) if maps.reads == "x" else keys.Block("a", int(maps.reads[1:])))
            weights = n.block(keys.Block("W", l))
            z_, a_, d_ = (n.block(block) for block in (keys.Block("z", l), keys.Block("a", l), keys.Block("z", l, of=keys.LOSS)))
            row(f"{vec}{T}" if n.latex is False else f"({vec}){T}", "", maps.inputs)
            row(weights, "", maps.kernel)
            row(f"({z_}){T}" if n.latex else f"{z_}{T}", "", maps.z)
            row(f"({a_}){T}" if n.latex else f"{a_}{T}", "", maps.a)
            row(f"({d_}){T}" if n.latex else f"{d_}{T}", n.gradient(z_) + (T if not n.latex else ""), maps.delta)
            rule = (f"{d_} ({vec}){T}" if n.latex else f"{d_} · {vec}{T}") if samples == 1 else ""
            row(n.gradient(weights), rule, maps.kernel_gradient)
            views.append({"title": f"Layer {l} (dense) in matrix form, sample 1",
                          "note": f"vectors written as rows; {p.digits} significant digits", "rows": rows})
            continue
        for c in range(maps.inputs.shape[0]):
            row(n.reads(maps, c + 1), "", maps.inputs[c])
        if maps.kind == "conv2d":
            assert maps.kernel is not None and maps.kernel_gradient is not None and maps.z is not None
            star = " " + n.operator("cross_correlation") + " "
            for f in range(maps.kernel.shape[0]):
                for c in range(maps.kernel.shape[1]):
                    row(n.of("W", l, f + 1, c + 1), "", maps.kernel[f, c])
                inputs = " + ".join(f"{n.of('W', l, f + 1, c + 1)}{star}{n.reads(maps, c + 1)}" for c in range(maps.kernel.shape[1]))
                bias = n.names.block(keys.Block("b", l), blocks.GRID).with_sub(f + 1).latex() if n.latex else str(keys.b(l, f + 1))
                row(n.of("z", l, f + 1), f"{inputs} + {bias}", maps.z[f])
                row(n.of("a", l, f + 1), "", maps.a[f])
            for f in range(maps.kernel.shape[0]):
                row(n.gradient(n.of("z", l, f + 1)), "", maps.delta[f])
            for f in range(maps.kernel.shape[0]):
                for c in range(maps.kernel.shape[1]):
                    rule = f"{n.reads(maps, c + 1)}{star}{n.gradient(n.of('z', l, f + 1))}" if (samples == 1 and _plain(maps)) else ""
                    row(n.gradient(n.of("W", l, f + 1, c + 1)), rule, maps.kernel_gradient[f, c])
            if maps.input_gradient is not None:
                for c in range(maps.inputs.shape[0]):
                    rule = ""
                    if _plain(maps):
                        rot = n.operator("rot180")
                        full = " " + n.operator("full_convolution") + " "
                        terms = [n.gradient(n.of("z", l, f + 1)) + full + rot + "(" + n.of("W", l, f + 1, c + 1) + ")"
                                 for f in range(maps.kernel.shape[0])]
                        rule = " + ".join(terms)
                    row(n.gradient(n.reads(maps, c + 1)), rule, maps.input_gradient[c])
        else:
            pool = n.op("maxpool" if maps.kind == "maxpool2d" else "avgpool",
                        r"\operatorname{maxpool}" if maps.kind == "maxpool2d" else r"\operatorname{avgpool}")
            for c in range(maps.a.shape[0]):
                row(n.of("a", l, c + 1), f"{pool}({n.reads(maps, c + 1)})", maps.a[c])
            for c in range(maps.a.shape[0]):
                row(n.gradient(n.of("a", l, c + 1)), "", maps.delta[c])
            if maps.input_gradient is not None:
                for c in range(maps.inputs.shape[0]):
                    row(n.gradient(n.reads(maps, c + 1)), "", maps.input_gradient[c])
        kind = {"conv2d": "convolution", "maxpool2d": "max-pooling", "avgpool2d": "average pooling"}[maps.kind]
        note = {
            "conv2d": f"{_geometry(maps, n.latex)}; "
                      + (n.op("⋆ is the valid cross-correlation, ⊛ the full convolution (δ padded by k − 1), rot180 the kernel turned by 180°",
                              r"$\star$ is the valid cross-correlation, $\circledast$ the full convolution ($\delta$ padded by $k - 1$), "
                              r"$\operatorname{rot}_{180}$ the kernel turned by $180^\circ$")
                         if _plain(maps) else f"with {'stride' if maps.dilation == (1, 1) else 'stride or dilation'} {n.op('>', '$>$')} 1 the gradients are the sums over positions written above"),
            "maxpool2d": ("" if _plain_window(maps) else f"{_geometry(maps, n.latex)}; ") + "each window's gradient goes to its largest input (at a tie the first, row by row)"
                         + ("; a padded position is " + n.op("−∞", r"$-\infty$") + " (never the largest)" if maps.padding != (0, 0) else ""),
            "avgpool2d": ("" if _plain_window(maps) else f"{_geometry(maps, n.latex)}; ") + "each window's gradient is shared equally by its inputs"
                         + ("; a padded position is 0 and counts in the divisor" if maps.padding != (0, 0) else "")
                         + ("; a window that reaches past the padded input divides by the positions it holds inside it, as torch" if maps.ceil_mode else ""),
        }[maps.kind] + _unread_note(maps)
        views.append({"title": f"Layer {l} ({kind}) as feature maps, sample 1", "note": f"{note}; {p.digits} significant digits", "rows": rows})
    return views
