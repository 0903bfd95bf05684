"""The chain rule as the texts write it: factors, every path, shared factors once."""

import dataclasses
import textwrap

from pytest import approx

from tracer import load, loads
from tracer.core.derive import solve
from tracer.core.solution import dependencies
from conftest import K
from tracer.keys import Partial, parse
from tracer.core.solution import Chain, Expression, Sum, Update, refs_of

MAZUR = "examples/mazur.yaml"


def mazur(**training):
    problem = load(MAZUR)
    if training:
        problem = dataclasses.replace(problem, training=dataclasses.replace(problem.training, **training))
    return solve(problem, verify=False)


def test_output_weight_is_three_factors_like_mazur():
    sol = mazur()
    step = sol.step("dloss/dW2[1,1]")
    assert isinstance(step.form, Chain)
    assert [str(f.target) for f in step.form.factors] == ["dloss/da2[1]", "da2[1]/dz2[1]", "dz2[1]/dW2[1,1]"]
    assert [f.value for f in step.form.factors] == approx([0.74136507, 0.186815602, 0.593269992], abs=5e-9)
    assert step.value == approx(0.082167041, abs=5e-10)


def test_hidden_activation_sums_every_path():
    sol = mazur()
    step = sol.step("dloss/da1[1]")
    assert isinstance(step.form, Sum)
    assert [[str(f.target) for f in t.factors] for t in step.form.terms] == [
        ["dloss/dz2[1]", "dz2[1]/da1[1]"],
        ["dloss/dz2[2]", "dz2[2]/da1[1]"],
    ]
    assert step.value == approx(0.036350306, abs=5e-10)


def test_shared_factor_computed_once_and_referred_to():
    sol = mazur()
    ids = [s.id for s in sol.all_steps()]
    assert ids.count(K("dloss/dz2[1]")) == 1
    hidden = sol.step("dloss/da1[1]")
    assert K("dloss/dz2[1]") in [f.ref for t in hidden.form.terms for f in t.factors]


def test_local_derivatives_come_from_sympy_on_the_local_equation():
    sol = mazur()
    act = sol.step("da2[1]/dz2[1]").form
    assert isinstance(act, Expression)
    assert str(act.symbolic) == "a2[1]*(1 - a2[1])"
    assert "exp" in str(act.derivation)  # SymPy's own derivative of 1/(1+e^-z), before recognition
    w = sol.step("dz2[1]/dW2[1,1]").form
    assert str(w.derivation) == "a1[1]"


def test_update_is_written_out():
    sol = mazur()
    step = sol.step("W2[1,1]'")
    assert isinstance(step.form, Update)
    assert step.form.rate == 0.5 and step.form.parameter.value == 0.4
    assert step.value == approx(0.35891648, abs=5e-9)


def test_untrained_bias_keeps_value_but_has_gradient():
    sol = mazur()
    assert sol.value("dloss/db2") == approx(0.10040032511, abs=1e-10)
    assert sol.value("b2'") == 0.6


def test_sequential_order_uses_updated_weights_above():
    sol = mazur(order="sequential")
    local = sol.step("dz2[1]/da1[1]")
    assert str(local.form.bindings[0].target) == "W2[1,1]'"
    assert local.value == approx(0.35891648, abs=5e-9)
    assert sol.value("loss_after") == approx(0.291027924, abs=5e-10)


def test_ask_needs_only_its_steps():
    sol = mazur()
    needed = {s.id for s in dependencies(sol, sol.step("dloss/dW1[1,1]"))}
    assert {K(n) for n in ("z1[1]", "a1[1]", "dloss/dz2[1]", "dloss/dz2[2]", "dloss/da1[1]", "dloss/dW1[1,1]")} <= needed
    assert K("dloss/dW2[1,1]") not in needed and K("W2[1,1]'") not in needed


SOFTMAX = textwrap.dedent(
    """
    network:
      inputs: 2
      layers:
        - {units: 2, activation: relu, weights: [[-2.5, 0.6], [-1.5, 0.4]], bias: [1.6, 0.7]}
        - {units: 3, activation: softmax, weights: [[-0.1, 1.5], [2.4, -5.2], [-2.2, 3.7]], bias: [-2, 0, 1]}
    loss: {kind: cross_entropy}
    data:
      - {x: [0.04, 0.42], label: 0}
      - {x: [1, 0.54], label: 1}
    training: {learning_rate: 0.5, update: ["b2[1]"]}
    """
)


def test_softmax_couples_every_output_to_every_logit():
    sol = solve(loads(SOFTMAX), verify=False)
    step = sol.step("dloss#2/dz2[1]")
    assert isinstance(step.form, Sum) and len(step.form.terms) == 3
    # only the true class (label 1 → output 2) carries a non-zero ∂CE/∂p term
    assert step.form.vanishing == (True, False, True)
    # ∂CE/∂z_1 = p_1 − y_1 (source 004 §7.4.2)
    assert step.value == approx(sol.value("a2[1]#2") - 0.0, abs=1e-12)
    assert sol.value("dloss#1/dz2[1]") == approx(sol.value("a2[1]#1") - 1.0, abs=1e-12)


def test_samples_combine_then_update_only_listed():
    sol = solve(loads(SOFTMAX), verify=False)
    total = sol.step("dloss/db2[1]")
    assert isinstance(total.form, Sum) and len(total.form.terms) == 2
    assert total.value == approx(sol.value("dloss#1/db2[1]") + sol.value("dloss#2/db2[1]"), abs=1e-15)
    assert sol.value("b2[1]'") == approx(-2 - 0.5 * total.value, abs=1e-15)
    assert sol.value("b2[2]'") == 0.0
    assert sol.value("W1[1,1]'") == -2.5


def test_mean_over_samples_scales_the_sum():
    problem = loads(SOFTMAX.replace("kind: cross_entropy}", "kind: cross_entropy, samples: mean}"))
    sol = solve(problem, verify=False)
    total = sol.step("dloss/dW2[1,1]")
    assert total.form.scale == approx(0.5)
    assert total.value == approx((sol.value("dloss#1/dW2[1,1]") + sol.value("dloss#2/dW2[1,1]")) / 2, abs=1e-15)


def test_names_parse_round_trip():
    for name in ["dloss/dW2[1,1]", "dloss/dW1[1,1]#2", "a2[1]#3", "W2[1,1]'", "loss_after", "b2", "loss[1]#2"]:
        assert str(parse(name)) == name
    assert str(parse("dloss#2/dW1[1,1]")) == "dloss/dW1[1,1]#2"
    assert isinstance(parse("da2[1]/dz2[1]#2"), Partial)


ELU_AT_ZERO = textwrap.dedent(
    """
    network:
      inputs: 1
      relu_derivative_at_zero: {at_zero}
      layers:
        - {{units: 1, activation: {{name: elu, alpha: 0.3}}, weights: [[1.0]], bias: -0.5}}
        - {{units: 1, activation: identity, weights: [[2.0]]}}
    loss: {{kind: mse}}
    data: [{{x: [0.5], y: [1.0]}}]
    training: {{learning_rate: 0.1}}
    """
)


def test_the_kink_convention_stated_is_the_one_used():
    """ELU with α = 0.3 at z = 0: the left-hand slope is α, the right-hand one 1 (the note said
    "elu'(0) = 1" while the solution used 0.3 before the redesign)."""
    for at_zero, slope in ((0, 0.3), (1, 1.0)):
        sol = solve(loads(ELU_AT_ZERO.format(at_zero=at_zero)))
        assert sol.value("z1[1]") == 0.0
        assert sol.value("da1[1]/dz1[1]") == approx(slope, abs=1e-15)
        assert f"elu'(0) is undefined; this solution uses the convention elu'(0) = {slope:g}" in sol.notes
        assert sol.verification.ok


SHARED_SOFTMAX_BIAS = textwrap.dedent(
    """
    network:
      inputs: 2
      layers:
        - {units: 2, activation: sigmoid, weights: [[0.1, 0.2], [0.3, 0.4]], bias: 0.1}
        - {units: 3, activation: softmax, weights: [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], bias: 0.2, shared_bias: true}
    loss: {kind: cross_entropy}
    data: [{x: [0.5, 0.3], label: 1}]
    training: {learning_rate: 0.1}
    """
)


def test_a_sum_that_cancels_to_within_its_rounding_is_exactly_zero():
    """∂CE/∂b for a bias shared by a softmax layer is Σ_k (p_k − y_k) = 0; floating point gives
    −5.55e−17, which a document must not print as a number."""
    sol = solve(loads(SHARED_SOFTMAX_BIAS))
    step = sol.step("dloss/db2")
    assert isinstance(step.form, Sum) and len(step.form.terms) == 3
    assert step.value == 0.0
    assert sum(f.value for t in step.form.terms for f in t.factors[:1]) == approx(0.0, abs=1e-15)
    assert sol.value("b2'") == 0.2
    assert sol.verification.ok


def test_the_steps_a_quantity_needs_come_each_after_the_steps_it_uses():
    for sol in (mazur(), mazur(order="sequential", steps=2), solve(loads(SOFTMAX), verify=False)):
        for step in sol.all_steps():
            seen = set()
            for needed in dependencies(sol, step):
                assert all(ref in seen for ref in refs_of(needed.form) if ref in sol.index), (step.id, needed.id)
                seen.add(needed.key)
