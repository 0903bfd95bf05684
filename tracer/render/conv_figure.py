"""The figure of a convolution, as the textbooks draw it: the input grid (its zero padding shaded),
the kernel, and the feature map, the first window outlined in the input and the cell it makes
outlined in the map: z[1,1] = Σ W ⊙ window + b.

One figure per document: the first conv2d layer's first filter on the first channel of the first
sample (the feature-map section has every grid). Views only: the numbers are the solution's
(:class:`~tracer.core.solution.FeatureMaps`, the engine's arrays) formatted here; the SVG (web
page, Markdown) and the TikZ picture (LaTeX) are drawn from the same view.
"""

from __future__ import annotations

from markupsafe import Markup

from tracer import keys
from tracer.core.solution import Solution
from tracer.render.step_printer import Printer

#: a grid larger than this (a side) is not drawn: the feature-map section lists it, elided
MAX_SIDE = 10
#: significant digits of the figure's cells
DIGITS = 3
#: the SVG's cell size and font, px
CELL, FONT = 40.0, 13.0


def conv_figure_view(solution: Solution, printer: Printer) -> dict | None:
    """The first conv2d layer's first filter, channel and output map, or None (no conv2d layer, no
    written-out step, or a grid too large to draw)."""
    if not solution.steps or not solution.steps[0].derived:
        return None
    maps = next((m for m in solution.steps[0].feature_maps if m.kind == "conv2d"), None)
    if maps is None or maps.kernel is None or maps.z is None:
        return None
    p = Printer(printer.dialect, printer.names, min(printer.digits, DIGITS))
    image = maps.inputs[0]
    kernel = maps.kernel[0, 0]
    out = maps.z[0]
    (ph, pw), (kh, kw), (dh, dw) = maps.padding, kernel.shape, maps.dilation
    height, width = image.shape[0] + 2 * ph, image.shape[1] + 2 * pw
    if max(height, width, out.shape[0], out.shape[1]) > MAX_SIDE:
        return None

    def padded(i: int, j: int) -> bool:
        return not (ph <= i < height - ph and pw <= j < width - pw)

    cells = [[("0" if padded(i, j) else p.number(float(image[i - ph, j - pw])), padded(i, j)) for j in range(width)] for i in range(height)]
    layer = maps.layer
    channels, filters = maps.kernel.shape[1], maps.kernel.shape[0]
    reads = maps.reads
    geometry = [f"{kh}×{kw}"]
    if maps.stride != (1, 1):
        geometry.append(f"stride {_pair(maps.stride)}")
    if maps.padding != (0, 0):
        geometry.append(f"padding {_pair(maps.padding)}")
    if maps.dilation != (1, 1):
        geometry.append(f"dilation {_pair(maps.dilation)}")
    apart = [f"rows {dh} apart" if dh > 1 else "", f"columns {dw} apart" if dw > 1 else ""]
    spread = "" if maps.dilation == (1, 1) else f" (its entries {' and '.join(a for a in apart if a)}, each outlined)"
    return {
        "input": cells,  # (text, padded?)
        "kernel": [[p.number(float(v)) for v in row] for row in kernel],
        "output": [[p.number(float(v)) for v in row] for row in out],
        "window": (kh, kw),  # the first window's rows and columns of entries
        "dilation": (dh, dw),  # 1: the window is one block; more: its entries drawn one by one, this far apart
        "reads": [(u * dh, v * dw) for u in range(kh) for v in range(kw)],  # the cells of the drawn (padded) grid it reads
        "stride": maps.stride,
        "padding": maps.padding,
        "input_name": f"{reads}[1,:,:]" if channels > 1 or reads != "x" else "x",
        # the canonical names of the blocks drawn (W2, z2), with the slice drawn when there are several
        "kernel_name": str(keys.Block("W", layer)) + ("[1,1,:,:]" if channels > 1 or filters > 1 else ""),
        "output_name": str(keys.Block("z", layer)) + ("[1,:,:]" if filters > 1 else ""),
        "more": channels > 1,  # the map also sums the other channels' windows
        "caption": (f"The first window ({', '.join(geometry)}) of the input{spread}, times the kernel entry by entry, "
                    f"summed{' with the other channels' if channels > 1 else ''}, plus the bias, is the first entry of the feature map."),
    }


def _pair(value: tuple[int, int]) -> str:
    """``2`` for (2, 2), ``(1, 2)`` otherwise (as torch prints a pair)."""
    return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"


def _grid(x: float, y: float, rows: list, title: str, *, padded: bool = False, window: tuple[int, int] | None = None,
          reads: list[tuple[int, int]] | None = None, mark: int = 0) -> list[str]:
    out = [f'<text x="{x + len(rows[0]) * CELL / 2:.1f}" y="{y - 10:.1f}" text-anchor="middle" font-size="{FONT + 1:.0f}" '
           f'font-style="italic">{_xml(title)}</text>']
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            text, shaded = cell if padded else (cell, False)
            cx, cy = x + j * CELL, y + i * CELL
            ink = ' fill="#777"' if shaded else ""
            out.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{CELL:.0f}" height="{CELL:.0f}" fill="{"#eeeeee" if shaded else "white"}" '
                       f'stroke="#777" stroke-width="0.8"/>')
            out.append(f'<text x="{cx + CELL / 2:.1f}" y="{cy + CELL / 2 + FONT / 3:.1f}" text-anchor="middle" font-size="{FONT:.0f}"'
                       f'{ink}>{_xml(text)}</text>')
    if window and reads is None:  # one block of cells
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{window[1] * CELL:.0f}" height="{window[0] * CELL:.0f}" fill="none" '
                   f'stroke="#c0392b" stroke-width="2.5" class="window"/>')
    for i, j in reads or ():  # a dilated window: each cell it reads
        out.append(f'<rect x="{x + j * CELL + 2:.1f}" y="{y + i * CELL + 2:.1f}" width="{CELL - 4:.0f}" height="{CELL - 4:.0f}" fill="none" '
                   f'stroke="#c0392b" stroke-width="2.5" class="window"/>')
    if mark:
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{CELL:.0f}" height="{CELL:.0f}" fill="none" stroke="#c0392b" stroke-width="2.5" class="window"/>')
    return out


def _xml(text: str) -> str:
    """Text for the SVG: escaped, a number's minus sign the real one (−0.23, not -0.23)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "−" + text[1:] if text.startswith("-") else text


def svg(view: dict) -> Markup:
    """The figure as an ``<svg>``: input ⋆ kernel → feature map, the first window and its cell outlined."""
    rows_in, rows_k, rows_out = view["input"], view["kernel"], view["output"]
    top = 34.0
    gap = 56.0
    x_in = 12.0
    x_k = x_in + len(rows_in[0]) * CELL + gap
    x_out = x_k + len(rows_k[0]) * CELL + gap
    width = x_out + len(rows_out[0]) * CELL + 12.0
    height = top + max(len(rows_in), len(rows_k), len(rows_out)) * CELL + 16.0
    mid = top + min(len(rows_in), len(rows_k), len(rows_out)) * CELL / 2  # level with the kernel and the map
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="convolution" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="serif" role="img" aria-label="{_xml(view["caption"])}">']
    dilated = tuple(view["dilation"]) != (1, 1)
    out += _grid(x_in, top, rows_in, view["input_name"], padded=True, window=view["window"], reads=view["reads"] if dilated else None)
    out += _grid(x_k, top, rows_k, view["kernel_name"])
    out += _grid(x_out, top, rows_out, view["output_name"], mark=1)
    out.append(f'<text x="{x_k - gap / 2:.1f}" y="{mid + 8:.1f}" text-anchor="middle" font-size="34">⋆</text>')
    out.append(f'<text x="{x_out - gap / 2:.1f}" y="{mid + 8:.1f}" text-anchor="middle" font-size="24">=</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
