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

from tracer.latex import Printer
from tracer.render import EquationView, SectionView
from tracer.solution import Solution

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
        return self.index[name].value

    def eq(self, lhs: str, symbolic: str, value: str, substituted: str = "") -> EquationView:
        self.number += 1
        return EquationView(self.number, lhs, [symbolic] if symbolic else [], [substituted] if substituted else [], value, [])

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
                        symbolic = rf"\left(J{sup(L)}\right)^{{\top}} \frac{{\partial \mathrm{{loss}}}}{{\partial a{sup(L)}}}"
                    else:
                        symbolic = rf"f'\left(z{sup(L)}\right) \odot \frac{{\partial \mathrm{{loss}}}}{{\partial a{sup(L)}}}"
                    backward.append(self.eq(rf"\frac{{\partial \mathrm{{loss}}}}{{\partial a{sup(L)}}}", "", dloss_da))
                    backward.append(self.eq(rf"\delta{sup(L)}", symbolic, _column(self.p, delta)))
                else:
                    fprime = [self.value(f"da{l}[{j}]/dz{l}[{j}]{tag(s)}") for j in range(1, layer.units + 1)]
                    symbolic = rf"f'\left(z{sup(l)}\right) \odot \left(\left(W{sup(l + 1)}\right)^{{\top}} \delta{sup(l + 1)}\right)"
                    upstream = [self.value(f"dloss/da{l}[{j}]{tag(s)}") for j in range(1, layer.units + 1)]
                    backward.append(self.eq(rf"\delta{sup(l)}", symbolic, _column(self.p, delta), _column(self.p, fprime) + r" \odot " + _column(self.p, upstream)))
                grads = [[self.value(f"dloss/dW{l}[{j},{i}]{tag(s)}") for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
                a_prev = "x" if l == 1 else f"a{sup(l - 1)}"
                backward.append(self.eq(rf"\frac{{\partial \mathrm{{loss}}}}{{\partial W{sup(l)}}}", rf"\delta{sup(l)} \left({a_prev}\right)^{{\top}}", _matrix(self.p, grads)))
            out.append(SectionView(f"Backward pass, matrix (δ) form{sample}", backward))

        if not self.sol.steps:
            return out
        first = self.sol.steps[0]
        rate = self.p.number(problem.training.learning_rate)  # type: ignore[attr-defined]
        update = []
        for l, layer in enumerate(layers, 1):
            grads = [[first.gradients[f"W{l}[{j},{i}]"] for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
            if S > 1:
                how = r"\frac{1}{%d}\sum_{s}" % S if problem.loss.samples == "mean" else r"\sum_{s}"  # type: ignore[attr-defined]
                update.append(self.eq(rf"\frac{{\partial \mathrm{{loss}}}}{{\partial W{sup(l)}}}", how + rf" \frac{{\partial \mathrm{{loss}}_s}}{{\partial W{sup(l)}}}", _matrix(self.p, grads)))
            after = [[first.params_after[f"W{l}[{j},{i}]"] for i in range(1, layer.inputs + 1)] for j in range(1, layer.units + 1)]
            update.append(
                self.eq(
                    rf"W{sup(l)}{{}}'",
                    rf"W{sup(l)} - \eta \, \frac{{\partial \mathrm{{loss}}}}{{\partial W{sup(l)}}}",
                    _matrix(self.p, after),
                    f"W{sup(l)} - {rate}" + r" \times " + _matrix(self.p, grads),
                )
            )
        out.append(SectionView("Gradient-descent update, matrix form", update))
        return out
