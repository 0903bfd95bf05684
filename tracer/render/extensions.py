"""Views of issue 6's sections: the δ form beside the scalar chain, a training run
(table and curves), a perceptron's truth table and decision boundaries.

Like :mod:`tracer.render`, this only formats: every number comes from the engine
(the solution's steps, :mod:`tracer.numeric`, :mod:`tracer.training`,
:mod:`tracer.layers.perceptron`) and is rounded by the document's printer. The loss curve
is drawn here as SVG (for Markdown; no plotting library) and as pgfplots
coordinates (for LaTeX). ``extension_view`` is the one entry point render.py calls.
"""

from __future__ import annotations

import math
from html import escape as html_escape
from pathlib import Path

from tracer import keys
from tracer.keys import Key
from tracer.core.solution import DeltaRow, Solution
from tracer.layers import perceptron
from tracer.notation import blocks
from tracer.numbers import fmt
from tracer.render.step_printer import Printer

#: rows of the run table (the curve always has every record)
TABLE_ROWS = 21


def extension_view(solution: Solution, printer, numbers: dict[str, int]) -> dict:
    """The δ form (``delta``), the run (``run``) and the perceptron (``perceptron``) views, each None
    when it does not apply."""
    latex = printer.dialect == "latex"
    return {
        "delta": delta_view(solution, printer, numbers, latex),
        "run": run_view(solution, printer, latex),
        "perceptron": perceptron_view(solution, printer, latex),
    }


# ---------------------------------------------------------------------------
# The δ form, shown equal to the scalar chain
# ---------------------------------------------------------------------------


def _vector(printer, values, latex: bool) -> str:
    if latex:
        return r"\begin{pmatrix}" + r" \\ ".join(printer.number(v) for v in values) + r"\end{pmatrix}"
    return "[" + ", ".join(printer.number(v) for v in values) + "]"


def _matrix(printer, rows, latex: bool) -> str:
    if latex:
        return r"\begin{pmatrix}" + r" \\ ".join(" & ".join(printer.number(v) for v in row) for row in rows) + r"\end{pmatrix}"
    return "[" + "; ".join(", ".join(printer.number(v) for v in row) for row in rows) + "]"


def delta_view(solution: Solution, printer, numbers: dict[Key, int], latex: bool) -> dict | None:
    """The δ law of the first written-out step, per sample and layer, as the verification
    computed it with NumPy (``Verification.delta``) beside the scalar chain's equations."""
    v = solution.verification
    if v is None or v.delta is None or not numbers:
        return None
    delta = v.delta
    samples = [{"number": tag, "rows": [_delta_row(row, tag, printer, numbers, latex) for row in rows]} for tag, rows in delta.samples]
    # a difference is rounding, not a result: two significant digits, as the verification prints it
    return {"samples": samples, "max_diff": fmt(delta.difference, 2, printer.dialect) if delta.difference else "0", "step": delta.step}


def _delta_row(row: DeltaRow, tag: int | None, printer, numbers: dict[Key, int], latex: bool) -> dict:
    l = row.layer
    names, form = printer.names, blocks.DELTA_FORM

    def spelled(symbol) -> str:
        return symbol.latex() if latex else symbol.compact()

    def W(k: int) -> str:
        return spelled(names.block(keys.Block("W", k), form))

    def a(k: int) -> str:
        """A layer's activations in the δ form (``a^{(1)}``); the input's below layer 1."""
        return spelled(names.block(keys.Block("x", None) if k == 0 else keys.Block("a", k), form))

    def z(k: int) -> str:
        return spelled(names.block(keys.Block("z", k), form))

    def delta(k: int) -> str:
        return spelled(names.block(keys.Block("z", k, of=keys.LOSS), form))

    dialect = "latex" if latex else "text"
    odot = " " + names.operator("hadamard", dialect) + " "
    top, slope, d = names.operator("transpose", dialect), names.operator("slope", dialect), names.operator("partial", dialect)
    assert form.loss is not None
    dL = (f"{d} {form.loss.latex}" if latex else f"{d}{form.loss.plain}")  # the δ form's loss, whatever the theme
    jacobian = spelled(blocks.layer_symbol("J", l, form))
    view = {
        "equals": _refs([numbers[k] for k in row.equals if k in numbers]),
        "diff": None if row.difference is None else (fmt(row.difference, 2, printer.dialect) if row.difference else "0"),
    }
    if row.what == "weights":
        sample = ("_" + str(tag) if latex else "#" + str(tag)) if tag else ""
        return view | {
            "lhs": rf"\frac{{{dL}{sample}}}{{{d} {W(l)}}}" if latex else f"{dL}{sample}/{d}{W(l)}",
            "symbolic": rf"{delta(l)} \left({a(l - 1)}\right){top}" if latex else f"{delta(l)} {a(l - 1)}{top}",
            "substituted": _vector(printer, row.delta, latex) + " " + _vector(printer, row.inputs, latex) + top,
            "value": _matrix(printer, row.values, latex),
        }
    if row.softmax:
        symbolic = rf"\left({jacobian}\right){top} \frac{{{dL}}}{{{d} {a(l)}}}" if latex else f"{jacobian}{top} {dL}/{d}{a(l)}"
        substituted = ""
    elif row.output:
        symbolic = rf"{slope}\left({z(l)}\right){odot}\frac{{{dL}}}{{{d} {a(l)}}}" if latex else f"{slope}({z(l)}){odot}{dL}/{d}{a(l)}"
        substituted = _vector(printer, row.slope, latex) + odot + _vector(printer, row.upstream, latex)
    else:
        symbolic = (rf"{slope}\left({z(l)}\right){odot}\left(\left({W(l + 1)}\right){top} {delta(l + 1)}\right)" if latex
                    else f"{slope}({z(l)}){odot}({W(l + 1)}{top} {delta(l + 1)})")
        substituted = _vector(printer, row.slope, latex) + odot + _vector(printer, row.upstream, latex)
    return view | {"lhs": delta(l), "symbolic": symbolic, "substituted": substituted,
                   "value": _vector(printer, row.delta, latex)}


def _refs(numbers: list[int]) -> str:
    """"(16), (17)"; a long list as "(108), (110), …, (128) (9 equations)"."""
    if not numbers:
        return ""
    if len(numbers) <= 4:
        return ", ".join(f"({n})" for n in numbers)
    return f"({numbers[0]}), ({numbers[1]}), …, ({numbers[-1]}) ({len(numbers)} equations)"


# ---------------------------------------------------------------------------
# A training run: table and curves
# ---------------------------------------------------------------------------


def _pick(records: list, rows: int = TABLE_ROWS) -> list:
    if len(records) <= rows:
        return list(records)
    step = (len(records) - 1) / (rows - 1)
    chosen = sorted({round(k * step) for k in range(rows)})
    return [records[k] for k in chosen]


def _percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def run_view(solution: Solution, printer, latex: bool) -> dict | None:
    run = getattr(solution, "run", None)
    if run is None:
        return None
    problem = solution.problem
    records = run.records
    unit = run.unit
    has_test = records[0].test_loss is not None
    has_acc = run.classification
    tracked = list(problem.training.track)  # type: ignore[attr-defined]
    if latex:
        track_names = [printer.target(key) for key in tracked]
    else:
        track_names = tracked
    table = []
    for r in _pick(records):
        table.append(
            {
                "epoch": r.epoch,
                "updates": r.updates,
                "loss": printer.number(r.loss),
                "accuracy": _percent(r.accuracy),
                "test_loss": printer.number(r.test_loss) if r.test_loss is not None else "—",
                "test_accuracy": _percent(r.test_accuracy),
                "tracked": [printer.number(r.tracked[n]) for n in tracked],
            }
        )
    xs = [r.epoch for r in records]
    loss_series = [("training loss", [r.loss for r in records])]
    if has_test:
        loss_series.append(("test loss", [r.test_loss for r in records]))
    acc_series = []
    if has_acc:
        acc_series.append(("training accuracy", [100 * r.accuracy for r in records]))
        if has_test and records[0].test_accuracy is not None:
            acc_series.append(("test accuracy", [100 * r.test_accuracy for r in records]))
    log_loss = all(v > 0 for _, ys in loss_series for v in ys) and max(loss_series[0][1]) / max(min(loss_series[0][1]), 1e-300) > 100
    last = run.last
    dataset = getattr(problem, "dataset", None)
    return {
        "mode": run.mode,
        "unit": unit,
        "units": f"{unit}s",
        "batch_size": run.batch_size,
        "samples": len(problem.data),  # type: ignore[attr-defined]
        "test_samples": len(getattr(problem, "test_data", ())),
        "batches_per_epoch": run.batches_per_epoch,
        "epochs": run.epochs,
        "updates": run.updates,
        "shuffle": problem.training.shuffle,  # type: ignore[attr-defined]
        "seed": problem.training.seed,  # type: ignore[attr-defined]
        "order": problem.training.order,  # type: ignore[attr-defined]
        "dataset": None if dataset is None else f"{dataset.name} (n = {dataset.n}, noise {dataset.noise:g}, seed {dataset.seed}, test fraction {dataset.test_fraction:g})",
        "table": table,
        "has_test": has_test,
        "has_accuracy": has_acc,
        "tracked": track_names,
        "first_loss": printer.number(records[0].loss),
        "final_loss": printer.number(last.loss),
        "final_accuracy": _percent(last.accuracy),
        "final_test_accuracy": _percent(last.test_accuracy),
        "seconds": f"{run.seconds:.2f}",
        "derived": [ts.number for ts in solution.steps if ts.derived],
        # Markdown embeds the SVG, LaTeX draws the same points with pgfplots (both use the latex printer)
        "loss_svg": svg_curve(xs, loss_series, f"Loss per {unit}", "loss", log=log_loss) if latex else "",
        "accuracy_svg": svg_curve(xs, acc_series, f"Accuracy per {unit}", "accuracy (%)") if acc_series and latex else "",
        "loss_plots": [{"legend": n, "coordinates": _coordinates(xs, ys)} for n, ys in loss_series] if latex else [],
        "accuracy_plots": [{"legend": n, "coordinates": _coordinates(xs, ys)} for n, ys in acc_series] if latex else [],
        "log_loss": log_loss,
    }


def _coordinates(xs, ys) -> str:
    return " ".join(f"({x},{y:.6g})" for x, y in zip(xs, ys) if y is not None and math.isfinite(y))


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def svg_curve(xs: list[float], series: list[tuple[str, list[float]]], title: str, ylabel: str, *, log: bool = False,
              width: int = 560, height: int = 300) -> str:
    """A line chart as a standalone SVG string: axes, ticks, one polyline per series, a legend."""
    left, right, top, bottom = 70, 20, 30, 45
    pw, ph = width - left - right, height - top - bottom
    ys_all = [y for _, ys in series for y in ys if y is not None and math.isfinite(y) and (y > 0 or not log)]
    if not ys_all or not xs:
        return ""
    tr = (lambda v: math.log10(v)) if log else (lambda v: v)
    lo, hi = tr(min(ys_all)), tr(max(ys_all))
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (tr(y) - lo) / (hi - lo)) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="13">{html_escape(title)}</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>',
    ]
    for k in range(6):  # y ticks
        v = lo + (hi - lo) * k / 5
        label = 10**v if log else v
        y = top + (1 - k / 5) * ph
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label:.3g}</text>')
    for k in range(6):  # x ticks
        v = x0 + (x1 - x0) * k / 5
        x = left + k / 5 * pw
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{v:.4g}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 8}" text-anchor="middle">{html_escape(title.split(" per ")[-1])}</text>')
    out.append(f'<text x="14" y="{top + ph / 2:.0f}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2:.0f})">{html_escape(ylabel)}{" (log scale)" if log else ""}</text>')
    for n, (name, ys) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and (y > 0 or not log))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        out.append(f'<line x1="{left + pw - 150}" y1="{top + 10 + 15 * n}" x2="{left + pw - 130}" y2="{top + 10 + 15 * n}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw - 125}" y="{top + 14 + 15 * n}">{html_escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Perceptrons
# ---------------------------------------------------------------------------


def perceptron_view(solution: Solution, printer, latex: bool) -> dict | None:
    table = solution.perceptron
    if table is None:
        return None
    layers = solution.problem.layers
    target = printer.target
    header = [target(keys.x(i)) for i in range(1, solution.problem.inputs + 1)]
    for l, layer in enumerate(layers, 1):
        header += [target(keys.z(l, j)) for j in range(1, layer.units + 1)]
        header += [target(keys.a(l, j)) for j in range(1, layer.units + 1)]
    with_target = any(r.target is not None for r in table.rows)
    if with_target:
        header += [target(keys.y(k)) for k in range(1, layers[-1].units + 1)]
    rows = []
    for r in table.rows:
        cells = [printer.number(v) for v in r.x]
        for z, a in zip(r.z, r.a):
            cells += [printer.number(v) for v in z] + [printer.number(v) for v in a]
        if with_target:
            cells += [printer.number(v) for v in r.target] if r.target is not None else ["—"] * layers[-1].units
        rows.append(cells)
    lines = []
    for b in table.boundaries:
        u = [target(keys.a(b.layer - 1, i)) for i in (1, 2)]
        times = " " if latex else "·"
        minus = "-" if latex else "−"
        w1, w2 = b.weights
        second = f" {minus if w2 < 0 else '+'} {printer.number(abs(w2))}{times}{u[1]}"
        bias = f" {minus if b.bias < 0 else '+'} {printer.number(abs(b.bias))}"
        equation = f"{printer.number(w1)}{times}{u[0]}{second}{bias} = 0"
        if b.slope is not None:
            slope = "" if abs(b.slope) == 1 else printer.number(abs(b.slope)) + times
            form = f"{u[1]} = {printer.number(b.intercept)} {'+' if b.slope >= 0 else minus} {slope}{u[0]}"
        elif b.intercept is not None:
            form = f"{u[0]} = {printer.number(b.intercept)}"
        else:
            form = "no line (both weights are 0)"
        lines.append({"layer": b.layer, "unit": b.unit, "equation": equation, "form": form, "unit_name": target(keys.a(b.layer, b.unit))})
    return {"header": header, "rows": rows, "boundaries": lines, "agrees": table.agrees, "explanation": perceptron.EXPLANATION}


def curve_files(solution: Solution, markdown: Path) -> list[tuple[Path, str]]:
    """Beside ``report.md``: ``report.loss.svg`` (and ``report.accuracy.svg``) of a training run,
    the same drawings the Markdown embeds, as files for viewers that strip inline SVG: each
    path with its text (the command writes them)."""
    view = run_view(solution, Printer("latex"), True)
    if view is None:
        return []
    return [(markdown.with_suffix(f".{kind}.svg"), view[f"{kind}_svg"] + "\n") for kind in ("loss", "accuracy") if view[f"{kind}_svg"]]
