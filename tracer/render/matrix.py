"""The matrix (δ) form of a solution, for networks too wide for scalar equations.

Layer by layer, as source 002's matrix slides and source 004 §7.7 write it:

    z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]},   a^{[l]} = f(z^{[l]})
    δ^{[L]} = ∂loss/∂z^{[L]} = f'(z^{[L]}) ⊙ ∂loss/∂a^{[L]}       (softmax: J^T ∂loss/∂a)
    δ^{[l]} = f'(z^{[l]}) ⊙ (W^{[l+1]T} δ^{[l+1]})
    ∂loss/∂W^{[l]} = δ^{[l]} a^{[l-1]T},   ∂loss/∂b^{[l]} = δ^{[l]}

Every number shown is read from the solution's steps (computed by the engine and
verified); nothing is computed here. Large matrices are elided (first rows and
columns, ⋯, the last).
"""

from __future__ import annotations

from tracer.render.printing import Printer
from tracer.render.document import EquationView, SectionView
from tracer.core.solution import Solution

#: largest matrix dimension shown in full; beyond it, the first 3, an ellipsis and the last
SHOW = 6


def _elide(n: int) -> list[int | None]:
    if n <= SHOW:
        return list(range(n))
    return [0, 1, 2, None, n - 1]


def _matrix(p: Printer, rows: list[list[float]]) -> str:
    if not rows:
        return ""
    lines = []
    for r in _elide(len(rows)):
        if r is None:
            cells = [r"\vdots" if c is not None else r"\ddots" for c in _elide(len(rows[0]))]
        else:
            cells = [r"\cdots" if c is None else p.number(rows[r][c]) for c in _elide(len(rows[0]))]
        lines.append(" & ".join(cells))
    return r"\begin{pmatrix}" + r" \\ ".join(lines) + r"\end{pmatrix}"


def _column(p: Printer, values: list[float]) -> str:
    return _matrix(p, [[v] for v in values])


class MatrixBuilder:
    def __init__(self, solution: Solution, printer: Printer, start: int = 0):
        self.sol = solution
        self.p = printer
        self.number = start
        self.index = solution.index

    def value(self, name: str) -> float:
        step = self.index.get(name)
        if step is not None:
            return step.value
        return self._engine_values()[name]

    def _engine_values(self) -> dict[str, float]:
        """The numbers of a network too large to derive symbolically (``derive.SYMBOLIC_LIMIT``):
        the NumPy engine's pass at the starting parameters, by canonical name (its gradients
        are the ones the verification checked)."""
        if getattr(self, "_engine", None) is None:
            from tracer.numeric import mlp as numeric

            problem = self.sol.problem
            result = numeric.evaluate(problem)
            S = len(result.samples)
            values: dict[str, float] = {}
            for s, sample in enumerate(result.samples, 1):
                tag = f"#{s}" if S > 1 else ""
                for l in range(1, len(sample.z) + 1):
                    for j in range(1, len(sample.z[l - 1]) + 1):
                        values[f"z{l}[{j}]{tag}"] = float(sample.z[l - 1][j - 1])
                        values[f"a{l}[{j}]{tag}"] = float(sample.a[l - 1][j - 1])
                        values[f"dloss/da{l}[{j}]{tag}"] = float(sample.dloss_da[l - 1][j - 1])
                        values[f"dloss/dz{l}[{j}]{tag}"] = float(sample.dloss_dz[l - 1][j - 1])
                        local = sample.da_dz[l - 1]
                        values[f"da{l}[{j}]/dz{l}[{j}]{tag}"] = float(local[j - 1, j - 1] if local.ndim == 2 else local[j - 1])
                for name, g in sample.grads.items():
                    values[f"dloss/d{name}{tag}"] = float(g)
            self._engine = values
        return self._engine

    def eq(self, lhs: str, symbolic: str, value: str, substituted: str = "") -> EquationView:
        self.number += 1
        rows = [("=", math) for math in (symbolic, substituted, value) if math]
        return EquationView(self.number, lhs, [symbolic] if symbolic else [], [substituted] if substituted else [], value, [], rows=rows)

    def sections(self) -> list[SectionView]:
        problem = self.sol.problem
        layers = problem.layers  # type: ignore[attr-defined]
        L = len(layers)
        S = len(problem.data)  # type: ignore[attr-defined]
        params = self.sol.steps[0].params_before if self.sol.steps else problem.parameters()  # type: ignore[attr-defined]
        out: list[SectionView] = []

        def tag(s: int) -> str:
            return f"#{s}" if S > 1 else ""

        def vec(prefix: str, l: int, units: int, s: int) -> list[float]:
            return [self.value(f"{prefix}{l}[{j}]{tag(s)}") for j in range(1, units + 1)]

        def sup(l: int) -> str:
            return f"^{{[{l}]}}"

        loss = "{" + self.p.names.loss_name + "}"  # the theme's name of the loss (E_{total}, J, …)
        rate = self.p.names.rate

        for s in range(1, S + 1):
            sample = f" (sample {s})" if S > 1 else ""
            forward = []
            for l, layer in enumerate(layers, 1):
                prev = [list(problem.data[s - 1].x)] if l == 1 else [vec("a", l - 1, layers[l - 2].units, s)]  # type: ignore[attr-defined]
                W = [[params[f"W{l}[{j},{i}]"] for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
                a_prev = "x" if l == 1 else f"a{sup(l - 1)}"
                bias = ""
                b_vals = ""
                if layer.bias is not None:
                    bias = f" + b{sup(l)}"
                    bv = [params[f"b{l}" if layer.shared_bias else f"b{l}[{j}]"] for j in range(1, layer.units + 1)]
                    b_vals = " + " + _column(self.p, bv)
                z = vec("z", l, layer.units, s)
                forward.append(
                    self.eq(f"z{sup(l)}", f"W{sup(l)} {a_prev}{bias}", _column(self.p, z), _matrix(self.p, W) + " " + _column(self.p, prev[0]) + b_vals)
                )
                name = layer.activation.name.replace("_", r"\_")
                forward.append(self.eq(f"a{sup(l)}", rf"\mathrm{{{name}}}\left(z{sup(l)}\right)", _column(self.p, vec("a", l, layer.units, s))))
            out.append(SectionView(f"Forward pass, matrix form{sample}", forward))

            backward = []
            for l in range(L, 0, -1):
                layer = layers[l - 1]
                delta = [self.value(f"dloss/dz{l}[{j}]{tag(s)}") for j in range(1, layer.units + 1)]
                if l == L:
                    dloss_da = _column(self.p, [self.value(f"dloss/da{L}[{k}]{tag(s)}") for k in range(1, layer.units + 1)])
                    if layer.activation.name == "softmax":
                        symbolic = rf"\left(J{sup(L)}\right)^{{\top}} \frac{{\partial {loss}}}{{\partial a{sup(L)}}}"
                    else:
                        symbolic = rf"f'\left(z{sup(L)}\right) \odot \frac{{\partial {loss}}}{{\partial a{sup(L)}}}"
                    backward.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial a{sup(L)}}}", "", dloss_da))
                    backward.append(self.eq(rf"\delta{sup(L)}", symbolic, _column(self.p, delta)))
                else:
                    fprime = [self.value(f"da{l}[{j}]/dz{l}[{j}]{tag(s)}") for j in range(1, layer.units + 1)]
                    symbolic = rf"f'\left(z{sup(l)}\right) \odot \left(\left(W{sup(l + 1)}\right)^{{\top}} \delta{sup(l + 1)}\right)"
                    upstream = [self.value(f"dloss/da{l}[{j}]{tag(s)}") for j in range(1, layer.units + 1)]
                    backward.append(self.eq(rf"\delta{sup(l)}", symbolic, _column(self.p, delta), _column(self.p, fprime) + r" \odot " + _column(self.p, upstream)))
                grads = [[self.value(f"dloss/dW{l}[{j},{i}]{tag(s)}") for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
                a_prev = "x" if l == 1 else f"a{sup(l - 1)}"
                backward.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial W{sup(l)}}}", rf"\delta{sup(l)} \left({a_prev}\right)^{{\top}}", _matrix(self.p, grads)))
            out.append(SectionView(f"Backward pass, matrix (δ) form{sample}", backward))

        if not self.sol.steps:
            return out
        first = self.sol.steps[0]
        rate_value = self.p.number(problem.training.learning_rate)  # type: ignore[attr-defined]
        update = []
        trained = set(problem.trainable())  # type: ignore[attr-defined]

        def updated(lhs: str, old: str, names: list[str], formula: str, value: str, substituted: str = "") -> EquationView:
            """θ' = θ − η ∂loss/∂θ, or θ' = θ when the file trains none of θ's entries."""
            if not any(name in trained for name in names):
                eq = self.eq(lhs, old, value)
                eq.note = "not trained, so unchanged"
                return eq
            eq = self.eq(lhs, formula, value, substituted)
            if not all(name in trained for name in names):
                eq.note = "only " + ", ".join(n for n in names if n in trained) + " trained; the other entries keep their values"
            return eq

        for l, layer in enumerate(layers, 1):
            grads = [[first.gradients[f"W{l}[{j},{i}]"] for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
            if S > 1:
                how = r"\frac{1}{%d}\sum_{s}" % S if problem.loss.samples == "mean" else r"\sum_{s}"  # type: ignore[attr-defined]
                update.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial W{sup(l)}}}", how + rf" \frac{{\partial {loss}_s}}{{\partial W{sup(l)}}}", _matrix(self.p, grads)))
            after = [[first.params_after[f"W{l}[{j},{i}]"] for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
            w_names = [f"W{l}[{j},{i}]" for j in range(1, layer.units + 1) for i in range(1, layer.inputs + 1)]
            update.append(
                updated(
                    rf"W{sup(l)}{{}}'",
                    f"W{sup(l)}",
                    w_names,
                    rf"W{sup(l)} - {rate} \, \frac{{\partial {loss}}}{{\partial W{sup(l)}}}",
                    _matrix(self.p, after),
                    f"W{sup(l)} - {rate_value}" + r" \times " + _matrix(self.p, grads),
                )
            )
            if layer.bias is None:
                continue
            # ∂loss/∂b = δ (summed over the units for a bias shared by the layer), then its update
            names = [f"b{l}"] if layer.shared_bias else [f"b{l}[{j}]" for j in range(1, layer.units + 1)]
            bias_grads = [first.gradients[name] for name in names]
            bias_after = [first.params_after[name] for name in names]
            shown = (lambda values: self.p.number(values[0])) if layer.shared_bias else (lambda values: _column(self.p, values))
            how = rf"\sum_j \delta{sup(l)}_j" if layer.shared_bias else rf"\delta{sup(l)}"
            if S > 1:
                how = (r"\frac{1}{%d}\sum_{s} " % S if problem.loss.samples == "mean" else r"\sum_{s} ") + how + "_{s}"  # type: ignore[attr-defined]
            update.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial b{sup(l)}}}", how, shown(bias_grads)))
            update.append(
                updated(
                    rf"b{sup(l)}{{}}'",
                    f"b{sup(l)}",
                    names,
                    rf"b{sup(l)} - {rate} \, \frac{{\partial {loss}}}{{\partial b{sup(l)}}}",
                    shown(bias_after),
                )
            )
        out.append(SectionView("Gradient-descent update, matrix form", update))
        return out
