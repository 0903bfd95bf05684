"""The honest hand methods a question's tolerance covers (issue 32, item 4): Mazur's δ form with the
δ rounded or truncated to the sheet's digits, and a softmax worked from rounded exponentials and
their rounded sum. Before, the tolerance modelled only the engine's one-line chain: 5 of 960 such
answers on Mazur's quiz and 4 of 720 on a softmax quiz were marked wrong.

The simulated student here is written independently of tracer.teach.hand: it finds the δ by the
chain's factor names and rounds each e^z through SymPy's own substitution.
"""

from __future__ import annotations

import functools
import math
import random

import pytest
import sympy as sp

from conftest import EXAMPLES, K
from tracer import load, solve
from tracer.core.solution import Chain, Expression
from tracer.spec import loads
from tracer.teach.hand import delta_forms, worked
from tracer.teach.quiz import generate
from tracer.teach.replay import evaluate, key_of, replay
from tracer.teach.rounding import MODES, allowances, round_to

SOFTMAX_QUIZ = (EXAMPLES / "relu_softmax_3class.yaml").read_text().split("training:")[0] + """training:
  learning_rate: 0.5
  steps: 1
randomize:
  weights: uniform(-1, 1, step=0.05)
  inputs: uniform(0.05, 1, step=0.05)
  ask: ["a2[2]#1", "dloss/dW2[2,1]", "dloss/dW1[1,1]", "W2[1,1]'"]
  digits: 4
  options: 0
"""


def hand_student(solution, rng: random.Random, digits: int = 4) -> dict:
    """Carries ``digits`` digits (sometimes one more), rounding half-up, half-even or truncating as
    it goes; works a gradient as the δ it wrote down times the rest, and a softmax (or a sigmoid)
    from each e^z written down rounded."""
    written_chains: dict[tuple, object] = {}
    for step in solution.all_steps():
        if isinstance(step.form, Chain):
            written_chains.setdefault(tuple(key_of(f.ref, f.target) for f in step.form.factors), step.id)

    def write(x: float) -> float:
        return round_to(x, rng.choice([digits, digits, digits + 1]), rng.choice(list(MODES)))

    def patch(step, inputs):
        form = step.form
        if isinstance(form, Chain):
            names = [key_of(f.ref, f.target) for f in form.factors]
            for k in range(len(names) - 1, 1, -1):
                delta = written_chains.get(tuple(names[:k]))
                if delta is not None and delta != step.id and delta in inputs.changed:
                    return write(inputs.changed[delta] * math.prod(inputs(f) for f in form.factors[k:]))
        if isinstance(form, Expression) and form.symbolic.has(sp.exp):
            symbols = [b.symbol for b in form.bindings]
            arguments, rest = with_exponentials_apart(form.symbolic, tuple(symbols))
            values = [inputs.binding(b) for b in form.bindings]
            exponentials = [write(math.exp(argument(*values))) for argument in arguments]
            return write(rest(*values, *exponentials))
        return write(evaluate(step, inputs))

    return replay(solution, patch=patch)


@functools.lru_cache(maxsize=None)
def with_exponentials_apart(expr: sp.Expr, symbols: tuple):
    """(each e^(…)'s argument as a function of the bindings, the expression as a function of the
    bindings and of the exponentials' written values)."""
    nodes = sorted({n for n in sp.preorder_traversal(expr) if n.func == sp.exp}, key=str)
    written = sp.symbols(f"e0:{len(nodes)}")
    arguments = [sp.lambdify(symbols, n.args[0], modules="math") for n in nodes]
    rest = sp.lambdify(symbols + tuple(written), expr.xreplace(dict(zip(nodes, written))), modules="math")
    return arguments, rest


def rejected(problem, variants: int, seed: int) -> tuple[int, int]:
    rng = random.Random(7)
    bad = total = 0
    for v in generate(problem, variants, seed=seed, jobs=1):
        for _ in range(6):
            values = hand_student(v.solution, rng)
            for q in v.questions:
                step = v.solution.step(q.name)
                answer = round_to(values.get(step.id, step.value), 4, rng.choice(["half-even", "truncated"]))
                total += 1
                bad += abs(answer - q.value) > float(q.tolerance)
    return bad, total


def test_a_class_working_in_delta_form_is_marked_right():
    assert rejected(load(EXAMPLES / "mazur.yaml"), 40, seed=5) == (0, 40 * 6 * 4)  # before: 5 rejected


def test_a_class_working_softmax_from_rounded_exponentials_is_marked_right():
    assert rejected(loads(SOFTMAX_QUIZ, "softmax-quiz.yaml"), 30, seed=5) == (0, 30 * 6 * 4)  # before: 4 rejected


def test_the_delta_of_a_weights_gradient_is_the_chain_already_written():
    deltas = delta_forms(solve(EXAMPLES / "mazur.yaml"))
    delta, rest = deltas[K("dloss/dW2[1,1]")]
    assert delta == K("dloss/dz2[1]") and [key_of(f.ref, f.target) for f in rest] == [K("dz2[1]/dW2[1,1]")]
    delta, rest = deltas[K("dloss/dW1[2,1]")]
    assert delta == K("dloss/dz1[2]") and [key_of(f.ref, f.target) for f in rest] == [K("dz1[2]/dW1[2,1]")]
    assert K("dloss/dz2[1]") not in deltas  # δ itself is a chain of two factors: nothing shorter is written


def test_mazur_delta_truncated_to_four_digits_is_inside_the_tolerance():
    # δ₂ = ∂loss/∂z2[1] = 0.74136507 × 0.186815602 = 0.138498562, truncated 0.1384;
    # × a1[1] = 0.5932699… written 0.5933: 0.1384 × 0.5933 = 0.08211272 → 0.08211; the truth is 0.08216704
    solution = solve(EXAMPLES / "mazur.yaml")
    step = solution.step("dloss/dW2[1,1]")
    hand = round_to(round_to(0.138498562, 4, "truncated") * 0.5933, 4)
    assert hand == 0.08211 and step.value == pytest.approx(0.0821670406, abs=1e-10)
    allowance = allowances(solution, [step], 4)[step.id]
    assert abs(hand - step.value) == pytest.approx(5.704e-5, abs=1e-8)
    assert allowance.spread >= 5.7e-5 and allowance.worst_method == "by hand"
    assert abs(hand - step.value) <= allowance.tolerance


def test_a_softmax_is_worked_from_its_rounded_exponentials_and_their_rounded_sum():
    # sample 2 of relu_softmax_3class: z2 = (−2, 0, 1); e^−2 = 0.1353, e^0 = 1, e^1 = 2.718;
    # Σ = 3.8533 → 3.853; a2[1] = 0.1353 / 3.853 = 0.0351155 (the truth 0.0351190)
    solution = solve(EXAMPLES / "relu_softmax_3class.yaml")
    step = solution.step("a2[1]#2")
    values = {b.symbol: b.value for b in step.form.bindings}
    by_hand = worked(step.form.symbolic, values, lambda v: round_to(v, 4))
    assert by_hand == pytest.approx(0.1353 / 3.853, rel=1e-15)
    assert worked(step.form.symbolic, values, lambda v: v) == pytest.approx(step.value, rel=1e-15)


def test_a_loss_is_one_value_written_once():
    # −y·ln a: the student writes ln a once, as the loss itself; nothing on the way is rounded
    solution = solve(EXAMPLES / "relu_softmax_3class.yaml")
    step = solution.step("loss[1]#1")
    values = {b.symbol: b.value for b in step.form.bindings}
    noted: list[float] = []
    worked(step.form.symbolic, values, lambda v: noted.append(v) or v)
    assert noted == []
