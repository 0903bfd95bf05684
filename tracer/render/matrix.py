"""The matrix (δ) form of a solution, for networks too wide for scalar equations.

Layer by layer, as matrix slides write it:

    z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]},   a^{[l]} = f(z^{[l]})
    δ^{[L]} = ∂loss/∂z^{[L]} = f'(z^{[L]}) ⊙ ∂loss/∂a^{[L]}       (softmax: J^T ∂loss/∂a)
    δ^{[l]} = f'(z^{[l]}) ⊙ (W^{[l+1]T} δ^{[l+1]})
    ∂loss/∂W^{[l]} = δ^{[l]} a^{[l-1]T},   ∂loss/∂b^{[l]} = δ^{[l]}

Every number shown is the engine's (the first training step's layer arrays,
:attr:`tracer.core.solution.TrainingStep.layers`, verified); nothing is computed here.
Large matrices are elided (first rows and columns, ⋯, the last).
"""

from __future__ import annotations

import numpy as np

from tracer import keys
from tracer.core import optimizers
from tracer.core.solution import LayerArrays, Solution
from tracer.keys import Block
from tracer.notation import blocks
from tracer.notation import optimizer as letters
from tracer.render.step_printer import Printer
from tracer.render.views import EquationView, SectionView


#: largest matrix dimension shown in full; beyond it, the first 3, an ellipsis and the last
SHOW = 6


def _elide(n: int) -> list[int | None]:
    if n <= SHOW:
        return list(range(n))
    return [0, 1, 2, None, n - 1]


def _matrix(p: Printer, rows) -> str:
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    if rows.size == 0:
        return ""
    lines = []
    for r in _elide(rows.shape[0]):
        if r is None:
            cells = [r"\vdots" if c is not None else r"\ddots" for c in _elide(rows.shape[1])]
        else:
            cells = [r"\cdots" if c is None else p.number(float(rows[r, c])) for c in _elide(rows.shape[1])]
        lines.append(" & ".join(cells))
    return r"\begin{pmatrix}" + r" \\ ".join(lines) + r"\end{pmatrix}"


def _column(p: Printer, values) -> str:
    return _matrix(p, np.asarray(values, dtype=float).reshape(-1, 1))


class MatrixBuilder:
    def __init__(self, solution: Solution, printer: Printer, start: int = 0):
        self.sol = solution
        self.p = printer
        self.number = start

    def eq(self, lhs: str, symbolic: str, value: str, substituted: str = "") -> EquationView:
        self.number += 1
        rows = [("=", math) for math in (symbolic, substituted, value) if math]
        return EquationView(self.number, lhs, [symbolic] if symbolic else [], [substituted] if substituted else [], value, [], rows=rows)

    def sections(self) -> list[SectionView]:
        if not self.sol.steps:
            return []
        layers: tuple[LayerArrays, ...] = self.sol.steps[0].layers
        L = len(layers)
        S = layers[0].z.shape[0]
        out: list[SectionView] = []

        names = self.p.names

        def W(l: int) -> str:
            return names.block(Block("W", l)).latex()

        def b(l: int) -> str:
            return names.block(Block("b", l)).latex()

        def z(l: int) -> str:
            return names.block(Block("z", l)).latex()

        def a(l: int) -> str:
            """The layer's activations; the input's below layer 1."""
            return names.block(Block("x", None) if l == 0 else Block("a", l)).latex()

        def delta(l: int) -> str:
            return names.block(Block("z", l, of=keys.LOSS)).latex()

        slope = names.operator("slope")
        odot, top = " " + names.operator("hadamard") + " ", names.operator("transpose")
        loss = "{" + names.loss_name + "}"  # the theme's name of the loss (E_{total}, J, …)
        rate = names.rate
        for s in range(S):
            sample = f" (sample {s + 1})" if S > 1 else ""
            forward = []
            for layer in layers:
                l = layer.number
                a_prev = a(l - 1)
                bias, b_vals = "", ""
                if layer.bias is not None:
                    bias = f" + {b(l)}"
                    b_vals = " + " + _column(self.p, np.broadcast_to(layer.bias, (layer.units,)))
                substituted = _matrix(self.p, layer.weights) + " " + _column(self.p, layer.inputs[s]) + b_vals
                forward.append(self.eq(z(l), f"{W(l)} {a_prev}{bias}", _column(self.p, layer.z[s]), substituted))
                name = layer.activation.replace("_", r"\_")
                forward.append(self.eq(a(l), rf"\mathrm{{{name}}}\left({z(l)}\right)", _column(self.p, layer.a[s])))
            out.append(SectionView(f"Forward pass, matrix form{sample}", forward))

            backward = []
            for layer in reversed(layers):
                l = layer.number
                if l == L:
                    if layer.activation == "softmax":
                        symbolic = rf"\left({blocks.layer_symbol('J', L).latex()}\right){top} \frac{{\partial {loss}}}{{\partial {a(L)}}}"
                    else:
                        symbolic = rf"{slope}\left({z(L)}\right){odot}\frac{{\partial {loss}}}{{\partial {a(L)}}}"
                    backward.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial {a(L)}}}", "", _column(self.p, layer.dloss_da[s])))
                    backward.append(self.eq(delta(L), symbolic, _column(self.p, layer.dloss_dz[s])))
                else:
                    symbolic = rf"{slope}\left({z(l)}\right){odot}\left(\left({W(l + 1)}\right){top} {delta(l + 1)}\right)"
                    substituted = _column(self.p, layer.slope[s]) + odot + _column(self.p, layer.dloss_da[s])
                    backward.append(self.eq(delta(l), symbolic, _column(self.p, layer.dloss_dz[s]), substituted))
                a_prev = a(l - 1)
                own = f"{loss}_{{s}}" if (S > 1 or layer.penalty_gradient is not None) else loss  # a sample's loss, not the total
                backward.append(self.eq(rf"\frac{{\partial {own}}}{{\partial {W(l)}}}", rf"{delta(l)} \left({a_prev}\right){top}",
                                        _matrix(self.p, layer.weight_gradients[s])))
            out.append(SectionView(f"Backward pass, matrix (δ) form{sample}", backward))

        problem = self.sol.problem
        update = []
        spec = problem.training.optimizer

        def updated(lhs: str, old: str, trained: np.ndarray, formula: str, value: str, substituted: str = "") -> EquationView:
            """θ' = θ − η ∂loss/∂θ, or θ' = θ when the file trains none of θ's entries. The note is
            prose (every format prints it as text): it counts the entries, it writes no symbol."""
            if not trained.any():
                eq = self.eq(lhs, old, value)
                eq.note = "not trained, so unchanged"
                return eq
            eq = self.eq(lhs, formula, value, substituted)
            if not trained.all():
                count, total = int(np.count_nonzero(trained)), int(np.size(trained))
                eq.note = f"only {count} of its {total} entries {'is' if count == 1 else 'are'} trained; the others keep their values"
            return eq

        clip = self.sol.steps[0].clip  # training.clip: the optimizer reads the clipped gradients g̃
        if clip is not None and clip["mode"] == "norm":
            norm = self.p.names.quantity(keys.GRAD_NORM)  # type: ignore[operator]
            coef = self.p.names.quantity(keys.CLIP_COEF)  # type: ignore[operator]
            over = r",\ ".join(rf"\frac{{\partial {loss}}}{{\partial {X(layer.number)}}}" for layer in layers
                                for X in ((W, b) if layer.bias is not None else (W,)))
            eq = self.eq(norm, rf"\left\lVert \left({over}\right) \right\rVert_2", self.p.number(clip["norm"]))
            eq.note = "over every trained parameter's gradient"
            update.append(eq)
            max_norm = letters.OTHERS["max_norm"].symbol().latex()
            update.append(self.eq(coef, rf"\frac{{{max_norm}}}{{{norm} + 10^{{-6}}}}", self.p.number(clip["clip_coef"]),
                                  rf"\frac{{{self.p.number(clip['max_norm'])}}}{{{self.p.number(clip['norm'])} + 10^{{-6}}}}"))
        for layer in layers:
            l = layer.number
            rate_value = self.p.number(layer.rate)
            if layer.penalty_gradient is not None:  # loss.regularization: its own term of the gradient
                penalty = self.p.names.quantity(keys.PENALTY)  # type: ignore[operator]
                update.append(self.eq(rf"\frac{{\partial {penalty}}}{{\partial {W(l)}}}", self._penalty_formula(l), _matrix(self.p, layer.penalty_gradient)))
            if S > 1 or layer.penalty_gradient is not None:
                how = (r"\frac{1}{%d}\sum_{s}" % S if problem.loss.samples == "mean" else r"\sum_{s}") if S > 1 else ""
                data = rf"{how} \frac{{\partial {loss}_s}}{{\partial {W(l)}}}" if S > 1 else rf"{delta(l)} \left({a(l - 1)}\right){top}"
                if layer.penalty_gradient is not None:
                    data += rf" + \frac{{\partial {self.p.names.quantity(keys.PENALTY)}}}{{\partial {W(l)}}}"  # type: ignore[operator]
                update.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial {W(l)}}}", data, _matrix(self.p, layer.weight_gradient)))
            if not spec.plain or clip is not None:
                if clip is not None:
                    update.append(self._clipped(W(l), layer.weight_clipped, clip, loss))
                update.extend(self._optimizer_equations(W(l), layer.weight_states, layer.weights_after, layer.trained_weights, loss))
                if layer.bias is not None:
                    shared = layer.bias.size == 1 and problem.layers[l - 1].shared_bias
                    how = rf"\sum_j {delta(l)}_j" if shared else delta(l)
                    update.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial {b(l)}}}", how, _column(self.p, layer.bias_gradient)))
                    if clip is not None:
                        update.append(self._clipped(b(l), layer.bias_clipped, clip, loss, column=True))
                    update.extend(self._optimizer_equations(b(l), layer.bias_states, layer.bias_after, layer.trained_bias, loss, column=True))
                continue
            update.append(
                updated(
                    rf"{W(l)}{{}}'",
                    W(l),
                    layer.trained_weights,
                    rf"{W(l)} - {rate} \, \frac{{\partial {loss}}}{{\partial {W(l)}}}",
                    _matrix(self.p, layer.weights_after),
                    f"{W(l)} - {rate_value} {names.operator('times')} " + _matrix(self.p, layer.weight_gradient),
                )
            )
            if layer.bias is None:
                continue
            # ∂loss/∂b = δ (summed over the units for a bias shared by the layer), then its update
            shared = layer.bias.size == 1 and problem.layers[l - 1].shared_bias
            shown = (lambda values: self.p.number(float(values[0]))) if shared else (lambda values: _column(self.p, values))
            how = rf"\sum_j {delta(l)}_j" if shared else delta(l)
            if S > 1:
                how = (r"\frac{1}{%d}\sum_{s} " % S if problem.loss.samples == "mean" else r"\sum_{s} ") + how + "_{s}"
            update.append(self.eq(rf"\frac{{\partial {loss}}}{{\partial {b(l)}}}", how, shown(layer.bias_gradient)))
            update.append(
                updated(
                    rf"{b(l)}{{}}'",
                    b(l),
                    layer.trained_bias,
                    rf"{b(l)} - {rate} \, \frac{{\partial {loss}}}{{\partial {b(l)}}}",
                    shown(layer.bias_after),
                )
            )
        title = "Gradient-descent update, matrix form" if spec.plain and clip is None else f"Update: {optimizers.rule(spec).title}, elementwise"
        out.append(SectionView(title, update))
        return out

    def _clipped(self, theta: str, values: np.ndarray, clip: dict, loss: str, column: bool = False) -> EquationView:
        """g̃(θ) = min(clip_coef, 1) ∂loss/∂θ, or clamp(∂loss/∂θ, −clip_value, clip_value), elementwise."""
        g = rf"\frac{{\partial {loss}}}{{\partial {theta}}}"
        if clip["mode"] == "norm":
            coef = self.p.names.quantity(keys.CLIP_COEF)  # type: ignore[operator]
            formula = rf"\min\left({coef}, 1\right) {g}"
        else:
            c = letters.OTHERS["clip_value"].symbol().latex()
            formula = rf"\min\left(\max\left({g}, -{c}\right), {c}\right)"
        lhs = rf"{letters.state_letter('clipped', 'latex')}\left({theta}\right)"
        return self.eq(lhs, formula, (_column if column else _matrix)(self.p, values))

    def _penalty_formula(self, l: int) -> str:
        loss = self.sol.problem.loss
        W = self.p.names.block(Block("W", l)).latex()
        l2, l1 = (letters.OTHERS[name].symbol().latex() for name in ("l2", "l1"))  # λ_{L2}, λ_{L1}
        parts = [rf"{l2} {W}"] if loss.l2 else []
        parts += [rf"{l1} \operatorname{{sign}}\left({W}\right)"] if loss.l1 else []
        return " + ".join(parts)

    def _optimizer_equations(self, theta: str, states: dict, after: np.ndarray, trained, loss: str, column: bool = False) -> list[EquationView]:
        """The optimizer's equations for a whole matrix (or bias vector) at once, elementwise (⊙, squares
        and roots of every entry), each with the engine's values."""
        spec = self.sol.problem.training.optimizer
        rule = optimizers.rule(spec)
        gradient = rf"\frac{{\partial {loss}}}{{\partial {theta}}}"
        if self.sol.steps[0].clip is not None:  # training.clip: the rule reads the clipped gradient
            gradient = rf"{letters.state_letter('clipped', 'latex')}\left({theta}\right)"
        names = {optimizers.THETA: theta, optimizers.GRAD: gradient, optimizers.RATE: self.p.names.rate,
                 optimizers.T: "t"}
        for name in letters.HYPERPARAMETERS:
            names[optimizers.HYPER[name]] = letters.hyper_name(name, "latex")
        for name in optimizers.STATE:
            letter = letters.state_letter(name, "latex")
            names[optimizers.STATE[name]] = rf"{letter}_{{t}}\left({theta}\right)"
            names[optimizers.previous(name)] = rf"{letter}_{{t-1}}\left({theta}\right)"
        shown = _column if column else _matrix
        if not np.asarray(trained).any():
            eq = self.eq(f"{theta}{{}}'", theta, shown(self.p, after))
            eq.note = "not trained, so unchanged"
            return [eq]
        out = []
        for equation in rule.equations:
            lhs = f"{theta}{{}}'" if equation.target == optimizers.AFTER else names[optimizers.STATE[equation.target]]
            value = after if equation.target == optimizers.AFTER else states[equation.target]
            out.append(self.eq(lhs, self.p.expression(equation.expression, names), shown(self.p, value)))
        if not np.asarray(trained).all():
            out[-1].note = "only some entries are trained; the others keep their values (and a state of 0)"
        return out
