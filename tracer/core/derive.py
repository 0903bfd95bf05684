"""The chain rule, factor by factor, the way the source texts do it.

For every sample the forward pass is written out (``net_h1 = w1·i1 + w2·i2 + b1``),
then, from the output back, every partial derivative of the loss:

* a *local derivative* is obtained by differentiating one local equation with SymPy
  (∂E/∂out_o1 from the loss term, ∂out_o1/∂net_o1 from the activation,
  ∂net_o1/∂w5 from the weighted sum) and shown in its textbook form;
* ``∂loss/∂z = ∂loss/∂a · ∂a/∂z`` (a softmax layer sums over every output it feeds);
* ``∂loss/∂a_{l-1}[i] = Σ_j ∂loss/∂z_l[j] · ∂z_l[j]/∂a_{l-1}[i]`` — every path;
* ``∂loss/∂W_l[j,i] = ∂loss/∂a_l[j] · ∂a_l[j]/∂z_l[j] · ∂z_l[j]/∂W_l[j,i]``.

Each of these is computed once and referred to by later steps ("we already have
∂E/∂net_o1"). Several samples: per-sample partials, then combined as the loss says.
Numbers are substituted into these small expressions, never into the whole loss,
so the work grows linearly with the number of parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from tracer.core import activations

from tracer.core import losses
from tracer.core.keys import Partial, Quantity
from tracer.builders.mlp import LOSS, Layer, Network, a, affine_local_derivative, loss_term, symbol, x, y, z
from tracer.core.solution import (
    Affine,
    Binding,
    Chain,
    Expression,
    Factor,
    Section,
    Solution,
    Step,
    Sum,
    TrainingStep,
    Update,
)
from tracer.spec import Problem, layer_of

#: training steps written out in full by default; later ones come from the NumPy engine
DEFAULT_DERIVED_STEPS = 3
#: a long run keeps one entry per step in ``Solution.steps`` up to this many full-batch steps;
#: beyond (or with batches) only the derived ones, and ``Solution.run`` has the recorded losses
NUMERIC_STEP_ENTRIES = 100
#: samples × parameters beyond which nothing is derived symbolically (the run is NumPy's only)
SYMBOLIC_LIMIT = 30_000


def solve(problem: Problem, *, derived_steps: int = DEFAULT_DERIVED_STEPS, verify: bool = True) -> Solution:
    """The whole worked solution of a problem: every training step, the loss after, the verification."""
    network = Network(problem)
    for layer in network.layers:  # the textbook forms are the derivatives of the local equations
        activations.check_textbook_form(layer.activation)
    losses.check_textbook_form(network.loss)

    from tracer.numeric import training

    index: dict[str, Step] = {}
    latest: dict[str, str] = {}  # parameter → id of the update step that produced its current value
    steps: list[TrainingStep] = []
    current = problem
    symbolic = len(problem.data) * len(problem.parameter_names()) <= SYMBOLIC_LIMIT
    if not symbolic:
        derived_steps = 0
    run = training.run(problem) if training.is_long(problem, derived_steps) else None
    batched = run is not None and run.batch_size < len(problem.data)
    keep_numeric = run is None or (not batched and problem.training.steps <= NUMERIC_STEP_ENTRIES)
    for number in range(1, problem.training.steps + 1):
        if number <= derived_steps:
            batch = _batch_of(run, number) if batched else None
            deriver = _Deriver(network, _on_batch(current, batch), number, index, latest)
            training_step, after = deriver.training_step()
            training_step.batch = batch
            current = current.with_parameters(after.parameters())
        elif keep_numeric:
            training_step, current = _numeric_step(network, current, number)
            latest.clear()  # these values come from the NumPy engine, not from a written-out update
        else:
            break
        steps.append(training_step)
    if run is not None and not keep_numeric:
        latest.clear()
        current = problem.with_parameters(run.final)
    if symbolic:
        closing_deriver = _Deriver(network, current, None, index, latest)
        closing, loss_after = closing_deriver.closing()
    else:
        closing, loss_after = [], run.last.loss if run is not None else _numeric_loss(current)
    solution = Solution(
        problem=problem,
        steps=steps,
        loss_after=loss_after,
        closing=closing,
        index=index,
        final=current,
    )
    solution.run = run
    solution.notes.extend(_notes(network, solution))
    if not symbolic:
        solution.notes.append(
            f"{len(problem.data)} samples × {len(problem.parameter_names())} parameters is too large to write out: "
            "every number below comes from the NumPy engine (tracer.training)"
        )
    if batched and derived_steps:
        for ts in steps:
            if ts.batch:
                solution.notes.append(
                    f"update {ts.number} is written out on its batch: sample(s) {', '.join(map(str, ts.batch))} of the data "
                    f"(numbered #1, #2, … in its equations)"
                )
    if verify:
        from tracer.core.verify import verify as _verify

        solution.verification = _verify(solution)
        if run is not None:
            solution.verification = _check_run(solution, run)
    return solution


def _batch_of(run, number: int) -> tuple[int, ...] | None:
    """The samples (1-based) of update ``number`` of a batched run (logged for the first few)."""
    logged = {u.number: u.batch for u in run.first_updates}
    if number not in logged:
        raise ValueError(f"update {number} of a batched run cannot be written out (only the first {len(logged)} are logged)")
    return logged[number]


def _on_batch(problem: Problem, batch: tuple[int, ...] | None) -> Problem:
    if batch is None:
        return problem
    from dataclasses import replace

    return replace(problem, data=tuple(problem.data[i - 1] for i in batch))


def _numeric_loss(problem: Problem) -> float:
    from tracer.numeric import mlp as numeric

    return float(numeric.evaluate(problem).loss)


def _check_run(solution: Solution, run) -> "object":
    """The run (NumPy, lean loop) against the written-out steps: the same parameters after each
    derived update, and the same final loss as the derived closing pass."""
    from dataclasses import replace

    from tracer.core.solution import Mismatch

    v = solution.verification
    assert v is not None
    count, worst, mismatches = v.quantities, v.max_abs_diff, list(v.mismatches)

    def check(name: str, engine: float, reference: float) -> None:
        nonlocal count, worst
        count += 1
        diff = abs(engine - reference)
        worst = max(worst, diff) if math.isfinite(diff) else worst
        if not diff <= 1e-9 * max(1.0, abs(reference)):
            mismatches.append(Mismatch(name, engine, reference, "training run"))

    for update in run.first_updates:
        if update.number <= len(solution.steps) and solution.steps[update.number - 1].derived:
            for name, value in solution.steps[update.number - 1].params_after.items():
                check(f"{name}'@{update.number}", value, update.params_after[name])
    # the lean loop against numeric's own step and forward pass (whether or not steps were derived)
    from tracer.numeric import mlp as numeric

    problem = solution.problem
    before = problem.parameters()  # type: ignore[attr-defined]
    for update in run.first_updates:
        batch = replace(problem, data=tuple(problem.data[i - 1] for i in update.batch))  # type: ignore[attr-defined]
        after = numeric.step(batch.with_parameters(before)).parameters()
        for name, value in update.params_after.items():
            check(f"{name}'@{update.number} (training run)", value, after[name])
        before = update.params_after
    final = problem.with_parameters(run.final)  # type: ignore[attr-defined]
    check("loss at the end of the run", run.last.loss, numeric.forward_loss(final))
    if solution.closing:
        check("loss_after", solution.loss_after, run.last.loss)
    return replace(v, quantities=count, max_abs_diff=worst, mismatches=tuple(mismatches))


# ---------------------------------------------------------------------------


@dataclass
class _Values:
    """The numbers of one sample's forward pass, by canonical name (no sample tag)."""

    z: dict[tuple[int, int], float]
    a: dict[tuple[int, int], float]


class _Deriver:
    """Writes out one training step (or the closing forward pass) at one parameter point."""

    def __init__(self, network: Network, problem: Problem, number: int | None, index: dict[str, Step], latest: dict[str, str]):
        self.net = network
        self.problem = problem
        self.params = problem.parameters()
        self.number = number  # None: the closing forward pass with the final parameters
        self.index = index
        self.latest = latest
        self.samples = len(problem.data)
        self.loss = network.loss

    # -- ids and factors -------------------------------------------------------------
    def tag(self, s: int) -> int | None:
        return s if self.samples > 1 else None

    def id_of(self, target: Quantity | Partial, *, sample_free: bool = False) -> str:
        text = str(target)
        if self.number is None:
            return "loss_after" if target == LOSS else f"{text}@end"
        return text if self.number == 1 else f"{text}@{self.number}"

    def add(self, section: Section, target, form, value: float, kind: str, sample: int | None = None, note: str = "") -> Step:
        step = Step(self.id_of(target), target, form, value, kind, sample, note)
        self.index[step.id] = step
        section.steps.append(step)
        return step

    @staticmethod
    def factor(step: Step) -> Factor:
        return Factor(step.target, step.value, step.id)

    def given(self, q: Quantity, value: float) -> Factor:
        """A number of the problem (an input, a target, a parameter at the start of the step)."""
        ref = self.latest.get(str(q)) if q.is_parameter else None
        if ref is not None:  # the value an update produced: name it so (w5⁺)
            q = Quantity(q.base, q.layer, q.index, None, True)
        return Factor(q, value, ref)

    def parameter(self, q: Quantity) -> float:
        return self.params[str(q)]

    # -- forward -------------------------------------------------------------------
    def forward(self, s: int) -> tuple[Section, _Values, list[Step]]:
        sample = self.problem.data[s - 1]
        t = self.tag(s)
        section = Section("forward", "Forward pass", sample=t)
        values = _Values({}, {})
        inputs = {i: sample.x[i - 1] for i in range(1, self.problem.inputs + 1)}
        previous: dict[int, Factor] = {i: Factor(_tagged(x(i), t), v, None) for i, v in inputs.items()}
        outputs: list[Step] = []
        for layer in self.net.layers:
            l = layer.number
            z_steps: dict[int, Step] = {}
            for j in range(1, layer.units + 1):
                terms = []
                total = 0.0
                for w_q, in_q in self.net.affine_terms(l, j):
                    w = self.given(w_q, self.parameter(w_q))
                    inp = previous[in_q.index[0]]
                    terms.append((w, inp))
                    total += w.value * inp.value
                bias_q = layer.bias_of(j)
                bias = None
                if bias_q is not None:
                    bias = self.given(bias_q, self.parameter(bias_q))
                    total += bias.value
                z_steps[j] = self.add(section, _tagged(z(l, j), t), Affine(tuple(terms), bias), total, "forward", t)
                values.z[(l, j)] = total
            current: dict[int, Factor] = {}
            if layer.is_softmax:
                zs = [z_steps[j].value for j in range(1, layer.units + 1)]
                probabilities = layer.activation.values(zs)  # type: ignore[attr-defined]
                bindings = tuple(
                    Binding(symbol(z(l, k)), z_steps[k].target, z_steps[k].value, z_steps[k].id)
                    for k in range(1, layer.units + 1)
                )
            for j in range(1, layer.units + 1):
                if layer.is_softmax:
                    value = probabilities[j - 1]
                    form = Expression(self.net.activation_equation(l, j), bindings)
                else:
                    zq = z_steps[j]
                    value = layer.activation.value(zq.value)  # type: ignore[union-attr]
                    form = Expression(
                        self.net.activation_equation(l, j),
                        (Binding(symbol(z(l, j)), zq.target, zq.value, zq.id),),
                    )
                step = self.add(section, _tagged(a(l, j), t), form, value, "activation", t)
                values.a[(l, j)] = value
                current[j] = self.factor(step)
                if l == self.net.depth:
                    outputs.append(step)
            previous = current
        return section, values, outputs

    def sample_loss(self, section: Section, s: int, outputs: list[Step]) -> Step:
        t = self.tag(s)
        sample = self.problem.data[s - 1]
        term_steps = []
        for k, out in enumerate(outputs, start=1):
            o_sym, y_sym = symbol(a(self.net.depth, k)), symbol(y(k))
            form = Expression(
                self.net.loss_term_equation(k),
                (
                    Binding(o_sym, out.target, out.value, out.id),
                    Binding(y_sym, _tagged(y(k), t), sample.y[k - 1], None),
                ),
            )
            term_steps.append(self.add(section, _tagged(loss_term(k), t), form, self.loss.term_value(out.value, sample.y[k - 1]), "loss", t))
        total = sum(step.value for step in term_steps)
        if self.loss.outputs == "mean":
            total /= len(term_steps)
        bindings = tuple(Binding(symbol(loss_term(k)), st.target, st.value, st.id) for k, st in enumerate(term_steps, 1))
        return self.add(section, _tagged(LOSS, t), Expression(self.net.sample_loss_equation(), bindings), total, "loss", t)

    def total_loss(self, section: Section, sample_losses: list[Step]) -> Step:
        if self.samples == 1:
            return sample_losses[0]
        terms = tuple(Chain((self.factor(st),)) for st in sample_losses)
        scale = 1 / self.samples if self.loss.samples == "mean" else None
        value = sum(st.value for st in sample_losses)
        if scale is not None:
            value *= scale
        reason = f"mean over {self.samples} samples" if scale else ""
        return self.add(section, LOSS, Sum(terms, scale, reason), value, "loss")

    # -- backward --------------------------------------------------------------------
    def backward_output(self, section: Section, s: int, values: _Values) -> tuple[dict[int, Step], dict[int, Step], dict]:
        """∂loss/∂a_L, the activation's local derivatives and ∂loss/∂z_L for one sample."""
        t = self.tag(s)
        L = self.net.depth
        layer = self.net.layer(L)
        sample = self.problem.data[s - 1]
        K = layer.units
        scale = sp.Rational(1, K) if (self.loss.outputs == "mean" and K > 1) else None
        dloss_da: dict[int, Step] = {}
        for k in range(1, K + 1):
            o_sym, y_sym = symbol(a(L, k)), symbol(y(k))
            textbook = self.loss.textbook(o_sym, y_sym)
            derived = losses.local_derivative(self.loss).xreplace({losses.O: o_sym, losses.Y: y_sym})
            value = self.loss.derivative_value(values.a[(L, k)], sample.y[k - 1])
            if scale is not None:
                textbook = sp.Mul(scale, textbook, evaluate=False)
                derived = scale * derived
                value *= float(scale)
            out_step = self.index[self.id_of(_tagged(a(L, k), t))]
            form = Expression(
                textbook,
                (
                    Binding(o_sym, out_step.target, out_step.value, out_step.id),
                    Binding(y_sym, _tagged(y(k), t), sample.y[k - 1], None),
                ),
                derivation=derived,
                local_equation=self.net.sample_loss_equation().xreplace(
                    {symbol(loss_term(m)): self.net.loss_term_equation(m) for m in range(1, K + 1)}
                ),
                wrt=o_sym,
            )
            dloss_da[k] = self.add(section, Partial(LOSS, a(L, k), t), form, value, "local", t)
        local = self.activation_locals(section, layer, s, values)
        dloss_dz = self.dloss_dz(section, layer, s, dloss_da, local)
        return dloss_da, dloss_dz, local

    def activation_locals(self, section: Section, layer: Layer, s: int, values: _Values) -> dict:
        """∂a/∂z of every unit of a layer (softmax: every pair), derived from the local equation."""
        t = self.tag(s)
        l = layer.number
        local: dict = {}
        if layer.is_softmax:
            act = layer.activation
            for m in range(1, layer.units + 1):
                for j in range(1, layer.units + 1):
                    am, aj = self.index[self.id_of(_tagged(a(l, m), t))], self.index[self.id_of(_tagged(a(l, j), t))]
                    form = Expression(
                        act.textbook(symbol(a(l, m)), symbol(a(l, j)), m == j),  # type: ignore[call-arg]
                        tuple(dict.fromkeys([
                            Binding(symbol(a(l, m)), am.target, am.value, am.id),
                            Binding(symbol(a(l, j)), aj.target, aj.value, aj.id),
                        ])),
                        derivation=sp.diff(self.net.activation_equation(l, m), symbol(z(l, j))),
                        local_equation=self.net.activation_equation(l, m),
                        wrt=symbol(z(l, j)),
                    )
                    value = act.derivative_value(am.value, aj.value, m == j)  # type: ignore[call-arg]
                    local[(m, j)] = self.add(section, Partial(a(l, m), z(l, j), t), form, value, "local", t)
            return local
        act = layer.activation
        for j in range(1, layer.units + 1):
            z_sym, a_sym = symbol(z(l, j)), symbol(a(l, j))
            zs, as_ = self.index[self.id_of(_tagged(z(l, j), t))], self.index[self.id_of(_tagged(a(l, j), t))]
            textbook = act.textbook(z_sym, a_sym)  # type: ignore[call-arg]
            bindings = []
            if textbook.has(z_sym):
                bindings.append(Binding(z_sym, zs.target, zs.value, zs.id))
            if textbook.has(a_sym):
                bindings.append(Binding(a_sym, as_.target, as_.value, as_.id))
            form = Expression(
                textbook,
                tuple(bindings),
                derivation=activations.local_derivative(act).xreplace({activations.Z: z_sym}),  # type: ignore[arg-type]
                local_equation=self.net.activation_equation(l, j),
                wrt=z_sym,
            )
            value = act.derivative_value(zs.value, as_.value)  # type: ignore[union-attr]
            local[j] = self.add(section, Partial(a(l, j), z(l, j), t), form, value, "local", t)
        return local

    def dloss_dz(self, section: Section, layer: Layer, s: int, dloss_da: dict[int, Step], local: dict) -> dict[int, Step]:
        t = self.tag(s)
        l = layer.number
        out: dict[int, Step] = {}
        for j in range(1, layer.units + 1):
            target = Partial(LOSS, z(l, j), t)
            if layer.is_softmax:
                terms = tuple(Chain((self.factor(dloss_da[m]), self.factor(local[(m, j)]))) for m in range(1, layer.units + 1))
                out[j] = self.add(section, target, _sum(terms), _sum_value(terms), "backward", t)
            else:
                chain = Chain((self.factor(dloss_da[j]), self.factor(local[j])))
                out[j] = self.add(section, target, chain, _chain_value(chain), "backward", t)
        return out

    def weight_gradients(self, section: Section, layer: Layer, s: int, dloss_da: dict[int, Step] | None, local: dict, dloss_dz: dict[int, Step]) -> dict[str, Step]:
        """∂loss/∂W and ∂loss/∂b of one layer for one sample."""
        t = self.tag(s)
        l = layer.number
        grads: dict[str, Step] = {}
        shared_terms = []
        for j in range(1, layer.units + 1):
            def chain_to(local_step: Step) -> Chain:
                if layer.is_softmax or dloss_da is None:
                    return Chain((self.factor(dloss_dz[j]), self.factor(local_step)))
                return Chain((self.factor(dloss_da[j]), self.factor(local[j]), self.factor(local_step)))

            for w_q, in_q in self.net.affine_terms(l, j):
                source = (
                    Factor(_tagged(in_q, t), self.problem.data[s - 1].x[in_q.index[0] - 1], None)
                    if l == 1
                    else self.factor(self.index[self.id_of(_tagged(in_q, t))])
                )
                form = Expression(
                    affine_local_derivative("weight", w_q, in_q),
                    (Binding(symbol(in_q), source.target, source.value, source.ref),),
                    derivation=affine_local_derivative("weight", w_q, in_q),
                    local_equation=self.net.pre_activation_equation(l, j) if layer.fan_in <= 8 else None,
                    wrt=symbol(w_q),
                )
                dz_dw = self.add(section, Partial(z(l, j), w_q, t), form, source.value, "local", t)
                chain = chain_to(dz_dw)
                grads[str(w_q)] = self.add(section, Partial(LOSS, w_q, t), chain, _chain_value(chain), "gradient", t)
            bias_q = layer.bias_of(j)
            if bias_q is None:
                continue
            one = affine_local_derivative("bias", bias_q, None)
            dz_db = self.add(
                section,
                Partial(z(l, j), bias_q, t),
                Expression(one, (), derivation=one, wrt=symbol(bias_q)),
                1.0,
                "local",
                t,
            )
            if layer.bias == "shared":
                shared_terms.append(Chain((self.factor(dloss_dz[j]), self.factor(dz_db))))
            else:
                chain = chain_to(dz_db)
                grads[str(bias_q)] = self.add(section, Partial(LOSS, bias_q, t), chain, _chain_value(chain), "gradient", t)
        if shared_terms:
            bias_q = layer.bias_of(1)
            assert bias_q is not None
            terms = tuple(shared_terms)
            grads[str(bias_q)] = self.add(section, Partial(LOSS, bias_q, t), _sum(terms), _sum_value(terms), "gradient", t)
        return grads

    def backward_hidden(self, section: Section, layer: Layer, s: int, above: dict[int, Step], weights_above: dict[str, Factor], values: _Values):
        """∂loss/∂a of a hidden layer: the sum over every unit of the layer above (every path)."""
        t = self.tag(s)
        l = layer.number
        up = self.net.layer(l + 1)
        dloss_da: dict[int, Step] = {}
        for i in range(1, layer.units + 1):
            terms = []
            for j in range(1, up.units + 1):
                w_q = Quantity("W", l + 1, (j, i))
                dz_da = self._dz_da(section, up, j, i, weights_above[str(w_q)])
                terms.append(Chain((self.factor(above[j]), self.factor(dz_da))))
            terms_t = tuple(terms)
            dloss_da[i] = self.add(section, Partial(LOSS, a(l, i), t), _sum(terms_t), _sum_value(terms_t), "backward", t)
        local = self.activation_locals(section, layer, s, values)
        dloss_dz = self.dloss_dz(section, layer, s, dloss_da, local)
        return dloss_da, local, dloss_dz

    def _dz_da(self, section: Section, up: Layer, j: int, i: int, weight: Factor) -> Step:
        """∂z_{l+1}[j]/∂a_l[i] = W_{l+1}[j,i]: the same in every sample, written once."""
        target = Partial(z(up.number, j), a(up.number - 1, i), None)
        existing = self.index.get(self.id_of(target))
        if existing is not None:
            return existing
        w_q = Quantity("W", up.number, (j, i))
        in_q = a(up.number - 1, i)
        derivative = affine_local_derivative("input", w_q, in_q)
        w_target = weight.target
        form = Expression(
            derivative if not getattr(w_target, "after", False) else symbol(w_target),
            (Binding(symbol(w_target), w_target, weight.value, weight.ref),),
            derivation=derivative,
            local_equation=self.net.pre_activation_equation(up.number, j) if up.fan_in <= 8 else None,
            wrt=symbol(in_q),
        )
        # sequential order: the weight was updated earlier in *this* step (a weight carried over
        # from the previous step's update is also an "after" quantity, but not a sequential one)
        updated_now = getattr(w_target, "after", False) and weight.ref == self.id_of(w_target)
        note = "with the weight already updated (sequential order)" if updated_now else ""
        return self.add(section, target, form, weight.value, "local", None, note)

    # -- combining samples, updating ------------------------------------------------
    def combine(self, section: Section, names: list[str], per_sample: list[dict[str, Step]]) -> dict[str, Step]:
        """∂loss/∂θ of the total loss: the per-sample gradients summed (or averaged)."""
        if self.samples == 1:
            return {name: per_sample[0][name] for name in names}
        out = {}
        scale = 1 / self.samples if self.loss.samples == "mean" else None
        reason = f"mean over {self.samples} samples" if scale else ""
        for name in names:
            terms = tuple(Chain((self.factor(grads[name]),)) for grads in per_sample)
            value = _sum_value(terms) if scale is None else _sum_value(terms) * scale
            q = per_sample[0][name].target.wrt  # type: ignore[union-attr]
            out[name] = self.add(section, Partial(LOSS, q, None), Sum(terms, scale, reason), value, "gradient")
        return out

    def update(self, section: Section, names: list[str], gradients: dict[str, Step], trainable: set[str]) -> dict[str, float]:
        rate = self.problem.training.learning_rate
        new = {}
        for name in names:
            grad = gradients[name]
            old_q = grad.target.wrt  # type: ignore[union-attr]
            old = self.params[name]
            if name not in trainable:
                new[name] = old
                continue
            value = old - rate * grad.value
            form = Update(self.given(old_q, old), rate, self.factor(grad))
            step = self.add(section, Quantity(old_q.base, old_q.layer, old_q.index, None, True), form, value, "update")
            new[name] = value
            self.latest[name] = step.id
        return new

    # -- the whole training step ----------------------------------------------------
    def training_step(self) -> tuple[TrainingStep, Problem]:
        sections: list[Section] = []
        per_sample_values: list[_Values] = []
        sample_losses: list[Step] = []
        loss_section = Section("loss", "Loss")
        for s in range(1, self.samples + 1):
            forward, values, outputs = self.forward(s)
            sections.append(forward)
            per_sample_values.append(values)
            sample_losses.append(self.sample_loss(loss_section, s, outputs))
        total = self.total_loss(loss_section, sample_losses)
        sections.append(loss_section)

        sequential = self.problem.training.order == "sequential"
        trainable = set(self.problem.trainable())
        gradients: dict[str, Step] = {}
        new_params = dict(self.params)
        L = self.net.depth
        above: list[dict[int, Step]] = []  # ∂loss/∂z of the layer above, per sample
        for layer in reversed(self.net.layers):
            l = layer.number
            title = "Backward pass: output layer" if l == L else f"Backward pass: hidden layer {l}"
            section = Section("backward", title, layer=l)
            per_sample_grads = []
            weights_above: dict[str, Factor] = {}
            if l < L:
                for name, value in self.params.items():
                    if name.startswith(f"W{l + 1}["):
                        q = Quantity("W", l + 1, tuple(int(v) for v in name[len(f'W{l + 1}['):-1].split(",")))
                        if sequential and name in trainable:
                            after_q = Quantity("W", q.layer, q.index, None, True)
                            weights_above[name] = Factor(after_q, new_params[name], self.id_of(after_q))
                        else:
                            weights_above[name] = self.given(q, value)
            new_above = []
            for s in range(1, self.samples + 1):
                if l == L:
                    dloss_da, dloss_dz, local = self.backward_output(section, s, per_sample_values[s - 1])
                else:
                    dloss_da, local, dloss_dz = self.backward_hidden(section, layer, s, above[s - 1], weights_above, per_sample_values[s - 1])
                per_sample_grads.append(self.weight_gradients(section, layer, s, dloss_da, local, dloss_dz))
                new_above.append(dloss_dz)
            above = new_above
            sections.append(section)
            names = [n for n in self.net.parameter_names if layer_of(n) == l]
            combined_section = Section("gradients", f"Gradients of the total loss: layer {l}", layer=l)
            gradients.update(self.combine(combined_section, names, per_sample_grads))
            if combined_section.steps:
                sections.append(combined_section)
            if sequential:
                update_section = Section("update", f"Update: layer {l}", layer=l)
                new_params.update(self.update(update_section, names, gradients, trainable))
                sections.append(update_section)
        if not sequential:
            update_section = Section("update", "Gradient-descent update")
            new_params.update(self.update(update_section, self.net.parameter_names, gradients, trainable))
            sections.append(update_section)

        assert self.number is not None
        order = {name: k for k, name in enumerate(self.net.parameter_names)}
        step = TrainingStep(
            number=self.number,
            derived=True,
            sections=_document_order(sections, sequential),
            loss=total.value,
            params_before=dict(self.params),
            gradients={name: gradients[name].value for name in sorted(gradients, key=order.__getitem__)},
            params_after=new_params,
            forward=[_forward_record(self.net, v, sl.value, s) for s, (v, sl) in enumerate(zip(per_sample_values, sample_losses), 1)],
        )
        return step, self.problem.with_parameters(new_params)

    def closing(self) -> tuple[list[Section], float]:
        """The forward pass and the loss with the final parameters."""
        sections = []
        loss_section = Section("loss_after", "Loss after the update")
        sample_losses = []
        for s in range(1, self.samples + 1):
            forward, _values, outputs = self.forward(s)
            forward.kind = "forward_after"
            forward.title = "Forward pass with the updated parameters" if self.problem.training.steps else "Forward pass (no training step)"
            sections.append(forward)
            sample_losses.append(self.sample_loss(loss_section, s, outputs))
        total = self.total_loss(loss_section, sample_losses)
        if total.id != "loss_after":  # one sample: its loss is the total
            loss_section.steps.remove(total)
            del self.index[total.id]
            total = Step("loss_after", Quantity("loss_after"), total.form, total.value, "loss", None)
            loss_section.steps.append(total)
            self.index["loss_after"] = total
        sections.append(loss_section)
        return sections, total.value


# ---------------------------------------------------------------------------


def _numeric_step(network: Network, problem: Problem, number: int) -> tuple[TrainingStep, Problem]:
    """A training step from the NumPy engine only (long runs): numbers, no derivation."""
    from tracer.numeric import mlp as numeric

    result = numeric.evaluate(problem)
    after = numeric.step(problem)
    records = []
    for s, sp_ in enumerate(result.samples, 1):
        records.append(
            {
                "sample": s,
                "layers": [{"z": [float(v) for v in zl], "a": [float(v) for v in al]} for zl, al in zip(sp_.z, sp_.a)],
                "loss": float(sp_.loss),
            }
        )
    order = problem.parameter_names()
    step = TrainingStep(
        number=number,
        derived=False,
        sections=[],
        loss=float(result.loss),
        params_before=problem.parameters(),
        gradients={name: float(result.grads[name]) for name in order},
        params_after=after.parameters(),
        forward=records,
    )
    return step, after


def _forward_record(net: Network, values: _Values, loss: float, s: int) -> dict:
    layers = []
    for layer in net.layers:
        l = layer.number
        layers.append(
            {
                "z": [values.z[(l, j)] for j in range(1, layer.units + 1)],
                "a": [values.a[(l, j)] for j in range(1, layer.units + 1)],
            }
        )
    return {"sample": s, "layers": layers, "loss": loss}


def _document_order(sections: list[Section], sequential: bool) -> list[Section]:
    return sections


def _tagged(q: Quantity, sample: int | None) -> Quantity:
    return Quantity(q.base, q.layer, q.index, sample, q.after)


def _chain_value(chain: Chain) -> float:
    value = 1.0
    for f in chain.factors:
        value *= f.value
    return value


def _sum(terms: tuple[Chain, ...], scale: float | None = None) -> Sum:
    vanishing = tuple(any(f.value == 0.0 for f in term.factors) for term in terms)
    return Sum(terms, scale, "", vanishing)


def _sum_value(terms: tuple[Chain, ...]) -> float:
    return math.fsum(_chain_value(term) for term in terms)


def _notes(network: Network, solution: Solution) -> list[str]:
    notes = []
    for layer in network.layers:
        act = layer.activation
        if getattr(act, "has_kink", False):
            at_kink = any(
                step.kind == "local" and isinstance(step.target, Partial) and step.target.of.base == "a"
                and step.target.of.layer == layer.number
                and any(b.symbol.name.startswith("z") and b.value == 0.0 for b in getattr(step.form, "bindings", ()))
                for step in solution.all_steps()
            )
            if at_kink:
                notes.append(act.kink_note())  # type: ignore[union-attr]
        if act.name == "step":
            notes.append(
                f"layer {layer.number} uses the step (threshold) activation: its derivative is 0 wherever it exists, "
                "so no gradient flows through it and backpropagation cannot train the weights before it"
            )
    return notes
