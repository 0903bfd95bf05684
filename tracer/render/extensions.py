"""Views of issue 6's sections: the δ form beside the scalar chain, a training run
(table and curves), a perceptron's truth table and decision boundaries.

Like :mod:`tracer.render`, this only formats: every number comes from the engine
(the solution's steps, :mod:`tracer.numeric`, :mod:`tracer.training`,
:mod:`tracer.perceptron`) and is rounded by the document's printer. The loss curve
is drawn here as SVG (for Markdown; no plotting library) and as pgfplots
coordinates (for LaTeX). ``extension_view`` is the one entry point render.py calls.
"""

from __future__ import annotations

import math
from html import escape as html_escape
from pathlib import Path

from tracer.numeric import mlp as numeric

from tracer.numeric import perceptron
from tracer.core.keys import Quantity
from tracer.core.solution import Solution

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


#: the δ form is written for layers up to this width (wider ones: `--form matrix`)
DELTA_MAX_UNITS = 8


def delta_view(solution: Solution, printer, numbers: dict[str, int], latex: bool) -> dict | None:
    """Source 004 §7.7's δ law for every layer of the first written-out step, per sample, each
    vector computed by NumPy's δ law and compared with the scalar chain's equations."""
    if not solution.steps or not solution.steps[0].derived or not numbers:
        return None
    problem = solution.problem
    first = solution.steps[0]
    if problem.training.order == "sequential":  # type: ignore[attr-defined]
        return None  # its hidden δ go through updated weights: not the δ law of one pass
    if max([problem.inputs] + [layer.units for layer in problem.layers]) > DELTA_MAX_UNITS:  # type: ignore[attr-defined]
        return None
    import dataclasses

    at = problem.with_parameters(first.params_before)  # type: ignore[attr-defined]
    if first.batch is not None:
        at = dataclasses.replace(at, data=tuple(problem.data[i - 1] for i in first.batch))  # type: ignore[attr-defined]
    reference = numeric.evaluate(at)
    S = len(at.data)
    L = len(at.layers)
    index = solution.index

    def tag(s: int) -> str:
        return f"#{s}" if S > 1 else ""

    def sup(l: int) -> str:
        return f"^{{({l})}}" if latex else f"({l})"

    def name(base: str, l: int) -> str:
        if latex:
            return {"delta": r"\delta", "W": "W", "a": "a", "z": "z"}[base] + sup(l)
        return {"delta": "δ", "W": "W", "a": "a", "z": "z"}[base] + sup(l)

    dL = r"\partial \mathcal{L}" if latex else "∂L"
    odot = r" \odot " if latex else " ⊙ "
    top = r"^{\top}" if latex else "ᵀ"
    samples = []
    worst = 0.0
    for s in range(1, S + 1):
        sp = reference.samples[s - 1]
        rows = []
        for l in range(L, 0, -1):
            layer = at.layers[l - 1]
            units = layer.units
            delta = [float(v) for v in sp.dloss_dz[l - 1]]
            local = sp.da_dz[l - 1]
            softmax = getattr(local, "ndim", 1) == 2
            ids = [f"dloss/dz{l}[{j}]{tag(s)}" for j in range(1, units + 1)]
            scalar = [index[i].value for i in ids if i in index]
            diff = max((abs(a - b) for a, b in zip(delta, scalar)), default=0.0) if len(scalar) == units else None
            worst = max(worst, diff or 0.0)
            if l == L:
                upstream = [float(v) for v in sp.dloss_da[l - 1]]
                if softmax:
                    symbolic = (rf"\left(J{sup(l)}\right){top} \frac{{{dL}}}{{\partial a{sup(l)}}}" if latex else f"J{sup(l)}{top} ∂L/∂a{sup(l)}")
                    substituted = ""
                else:
                    symbolic = (rf"f'\left(z{sup(l)}\right){odot}\frac{{{dL}}}{{\partial a{sup(l)}}}" if latex else f"f'(z{sup(l)}){odot}∂L/∂a{sup(l)}")
                    substituted = _vector(printer, [float(v) for v in local], latex) + odot + _vector(printer, upstream, latex)
            else:
                upstream = [float(v) for v in sp.dloss_da[l - 1]]  # = W^{(l+1)ᵀ} δ^{(l+1)}
                symbolic = (
                    rf"f'\left(z{sup(l)}\right){odot}\left(\left(W{sup(l + 1)}\right){top} \delta{sup(l + 1)}\right)"
                    if latex
                    else f"f'(z{sup(l)}){odot}(W{sup(l + 1)}{top} δ{sup(l + 1)})"
                )
                substituted = _vector(printer, [float(v) for v in local], latex) + odot + _vector(printer, upstream, latex)
            rows.append(
                {
                    "lhs": name("delta", l),
                    "symbolic": symbolic,
                    "substituted": substituted,
                    "value": _vector(printer, delta, latex),
                    "equals": _refs([numbers[i] for i in ids if i in numbers]),
                    "diff": None if diff is None else printer.number(diff) if diff else "0",
                }
            )
            grads = [[float(sp.grads[f"W{l}[{j},{i}]"]) for i in range(1, layer.inputs + 1)] for j in range(1, units + 1)]
            g_ids = [f"dloss{'#' + str(s) if S > 1 else ''}/dW{l}[{j},{i}]" for j in range(1, units + 1) for i in range(1, layer.inputs + 1)]
            g_ids = [g if g in index else f"dloss/dW{l}[{g.split('[', 1)[1]}{tag(s)}" for g in g_ids]
            flat = [v for row in grads for v in row]
            g_scalar = [index[i].value for i in g_ids if i in index]
            g_diff = max((abs(a - b) for a, b in zip(flat, g_scalar)), default=0.0) if len(g_scalar) == len(flat) else None
            worst = max(worst, g_diff or 0.0)
            a_prev = ("x" if l == 1 else f"a{sup(l - 1)}")
            prev_values = list(at.data[s - 1].x) if l == 1 else [float(v) for v in sp.a[l - 2]]
            rows.append(
                {
                    "lhs": (rf"\frac{{\partial \mathcal{{L}}{'_' + str(s) if S > 1 else ''}}}{{\partial W{sup(l)}}}" if latex else f"∂L{'#' + str(s) if S > 1 else ''}/∂W{sup(l)}"),
                    "symbolic": (rf"\delta{sup(l)} \left({a_prev}\right){top}" if latex else f"δ{sup(l)} {a_prev}{top}"),
                    "substituted": _vector(printer, delta, latex) + " " + _vector(printer, prev_values, latex) + top,
                    "value": _matrix(printer, grads, latex),
                    "equals": _refs([numbers[i] for i in g_ids if i in numbers]),
                    "diff": None if g_diff is None else printer.number(g_diff) if g_diff else "0",
                }
            )
        samples.append({"number": s if S > 1 else None, "rows": rows})
    return {"samples": samples, "max_diff": printer.number(worst) if worst else "0", "step": first.number}


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
        track_names = [printer.target(_parameter(n)) for n in tracked]
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


def _parameter(name: str) -> Quantity:
    from tracer.core.keys import parse_quantity

    return parse_quantity(name)


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
    problem = solution.problem
    if not perceptron.is_perceptron(problem) or problem.inputs > 6:  # type: ignore[attr-defined]
        return None
    rows = perceptron.truth_table(problem)  # type: ignore[arg-type]
    layers = problem.layers  # type: ignore[attr-defined]

    def target(q: Quantity) -> str:
        return printer.target(q)

    header = [target(Quantity("x", None, (i,))) for i in range(1, problem.inputs + 1)]  # type: ignore[attr-defined]
    for l, layer in enumerate(layers, 1):
        header += [target(Quantity("z", l, (j,))) for j in range(1, layer.units + 1)]
        header += [target(Quantity("a", l, (j,))) for j in range(1, layer.units + 1)]
    with_target = any(r.target is not None for r in rows)
    if with_target:
        header += [target(Quantity("y", None, (k,))) for k in range(1, layers[-1].units + 1)]
    table = []
    for r in rows:
        cells = [printer.number(v) for v in r.x]
        for z, a in zip(r.z, r.a):
            cells += [printer.number(v) for v in z] + [printer.number(v) for v in a]
        if with_target:
            cells += [printer.number(v) for v in r.target] if r.target is not None else ["—"] * layers[-1].units
        table.append(cells)
    lines = []
    for b in perceptron.boundaries(problem):  # type: ignore[arg-type]
        u = [target(Quantity("x", None, (i,))) if b.layer == 1 else target(Quantity("a", b.layer - 1, (i,))) for i in (1, 2)]
        w1, w2 = (printer.number(w) for w in b.weights)
        bias = printer.number(abs(b.bias))
        sign = ("-" if latex else "−") if b.bias < 0 else "+"
        times = " " if latex else "·"
        equation = f"{w1}{times}{u[0]} + {w2}{times}{u[1]} {sign} {bias} = 0"
        if b.slope is not None:
            minus = "-" if latex else "−"
            form = f"{u[1]} = {printer.number(b.intercept)} {'+' if b.slope >= 0 else minus} {printer.number(abs(b.slope)) + times if abs(b.slope) != 1 else ''}{u[0]}"
        elif b.intercept is not None:
            form = f"{u[0]} = {printer.number(b.intercept)}"
        else:
            form = "no line (both weights are 0)"
        lines.append({"layer": b.layer, "unit": b.unit, "equation": equation.replace("+ -", "- ").replace("+ −", "− "), "form": form, "unit_name": target(Quantity("a", b.layer, (b.unit,)))})
    agrees = perceptron.agrees(rows)
    return {"header": header, "rows": table, "boundaries": lines, "agrees": agrees, "explanation": perceptron.EXPLANATION}


def write_curves(solution: Solution, markdown: Path) -> list[Path]:
    """Beside ``report.md``: ``report.loss.svg`` (and ``report.accuracy.svg``) of a training run,
    the same drawings the Markdown embeds, as files for viewers that strip inline SVG."""
    from tracer.render.printing import Printer

    view = run_view(solution, Printer("latex"), True)
    if view is None:
        return []
    written = []
    for kind in ("loss", "accuracy"):
        svg = view[f"{kind}_svg"]
        if svg:
            path = markdown.with_suffix(f".{kind}.svg")
            path.write_text(svg + "\n", encoding="utf-8")
            written.append(path)
    return written
