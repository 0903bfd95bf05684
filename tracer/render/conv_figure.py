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
    pad, k, stride = maps.padding, kernel.shape[0], maps.stride
    height, width = image.shape[0] + 2 * pad, image.shape[1] + 2 * pad
    if max(height, width, out.shape[0], out.shape[1]) > MAX_SIDE:
        return None
    cells = [[("0" if not (pad <= i < height - pad and pad <= j < width - pad) else p.number(float(image[i - pad, j - pad])),
               not (pad <= i < height - pad and pad <= j < width - pad)) for j in range(width)] for i in range(height)]
    layer = maps.layer
    channels, filters = maps.kernel.shape[1], maps.kernel.shape[0]
    reads = maps.reads
    return {
        "input": cells,  # (text, padded?)
        "kernel": [[p.number(float(v)) for v in row] for row in kernel],
        "output": [[p.number(float(v)) for v in row] for row in out],
        "k": k,
        "stride": stride,
        "padding": pad,
        "input_name": f"{reads}[1,:,:]" if channels > 1 or reads != "x" else "x",
        # the canonical names of the blocks drawn (W2, z2), with the slice drawn when there are several
        "kernel_name": str(keys.Block("W", layer)) + ("[1,1,:,:]" if channels > 1 or filters > 1 else ""),
        "output_name": str(keys.Block("z", layer)) + ("[1,:,:]" if filters > 1 else ""),
        "more": channels > 1,  # the map also sums the other channels' windows
        "caption": (f"The first window ({k}×{k}{', stride ' + str(stride) if stride > 1 else ''}"
                    f"{', padding ' + str(pad) if pad else ''}) of the input, times the kernel entry by entry, "
                    f"summed{' with the other channels' if channels > 1 else ''}, plus the bias, is the first entry of the feature map."),
    }


def _grid(x: float, y: float, rows: list, title: str, *, padded: bool = False, window: int = 0, mark: int = 0) -> list[str]:
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
    if window:
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{window * CELL:.0f}" height="{window * CELL:.0f}" fill="none" stroke="#c0392b" stroke-width="2.5" class="window"/>')
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
    out += _grid(x_in, top, rows_in, view["input_name"], padded=True, window=view["k"])
    out += _grid(x_k, top, rows_k, view["kernel_name"])
    out += _grid(x_out, top, rows_out, view["output_name"], mark=1)
    out.append(f'<text x="{x_k - gap / 2:.1f}" y="{mid + 8:.1f}" text-anchor="middle" font-size="34">⋆</text>')
    out.append(f'<text x="{x_out - gap / 2:.1f}" y="{mid + 8:.1f}" text-anchor="middle" font-size="24">=</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
