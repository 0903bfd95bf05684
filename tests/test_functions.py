"""One class per operation: its forward rule, its textbook derivative and their numbers agree.

For every activation (both kink conventions), the softmax, the weighted sum and every loss
term: the NumPy forward equals the SymPy local equation, the NumPy local derivative equals
the printed textbook form and SymPy's own derivative, and a textbook form that is not the
derivative is refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from tracer.core import functions as F
from tracer.spec import ActivationSpec, LossSpec

RNG = np.random.default_rng(7)
POINTS = np.concatenate([RNG.normal(scale=2.0, size=40), [-3.0, -0.5, 0.25, 2.0]])
ACTIVATIONS = [name for name in F.ACTIVATIONS] + ["leaky_relu_03", "elu_03"]


def activation(name: str, at_zero: int) -> F.Operation:
    if name.endswith("_03"):
        return F.activation(ActivationSpec(name[:-3], (("alpha", 0.3),)), at_zero)
    return F.activation(ActivationSpec(name, ()), at_zero)


def numeric(expr: sp.Expr, symbols, *values) -> np.ndarray:
    return np.array([float(expr.subs(dict(zip(symbols, point)))) for point in zip(*values)])


@pytest.mark.parametrize("at_zero", [0, 1])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_an_activation_computes_what_it_prints(name, at_zero):
    op = activation(name, at_zero)
    assert F.check_textbook_form(op)
    z = POINTS[:, None]
    a = op.forward(z)
    assert a == pytest.approx(numeric(op.expression([F.ARG[0]]), [F.ARG[0]], POINTS), rel=1e-12, abs=1e-14)
    local = op.local(z, a)[:, 0]
    textbook = op.textbook()
    assert local == pytest.approx(numeric(textbook, [F.ARG[0], F.OUT[0]], POINTS, a), rel=1e-12, abs=1e-14)
    derived = op.derived(0).rewrite(sp.Piecewise)
    assert local == pytest.approx(numeric(derived, [F.ARG[0]], POINTS), rel=1e-9, abs=1e-12)  # away from the kink


@pytest.mark.parametrize("name", ["relu", "leaky_relu_03", "elu_03"])
def test_the_kink_note_says_the_slope_used_at_zero(name):
    for at_zero in (0, 1):
        op = activation(name, at_zero)
        slope = float(op.local(np.zeros((1, 1)), op.forward(np.zeros((1, 1))))[0, 0])
        left, right = (0.3 if "03" in name else 0.0), 1.0
        assert slope == (right if at_zero else left)
        assert op.kink_note().endswith(f"{op.name}'(0) = {slope:g}")


def test_the_softmax_jacobian_is_its_textbook_form_and_its_finite_differences():
    op = F.Softmax(4)
    assert F.check_textbook_form(op)
    z = RNG.normal(size=(3, 4))
    rows = np.repeat(z[:, None, :], 4, axis=1)
    positions = np.arange(4)
    a = op.forward(rows, positions)
    assert a.sum(axis=1) == pytest.approx(np.ones(3), rel=1e-15)
    local = op.local(rows, a, positions)
    assert local[0] == pytest.approx(np.diag(a[0]) - np.outer(a[0], a[0]), abs=1e-15)  # a_m(δ_mj − a_j)
    h = 1e-6
    for j in range(4):
        step = np.zeros(4)
        step[j] = h
        up = op.forward(np.repeat((z + step)[:, None, :], 4, axis=1), positions)
        down = op.forward(np.repeat((z - step)[:, None, :], 4, axis=1), positions)
        assert local[:, :, j] == pytest.approx((up - down) / (2 * h), abs=1e-8)


def test_the_weighted_sum_and_its_generic_derivative():
    op = F.WeightedSum(2, True)
    values = np.array([[0.15, 0.2, 0.05, 0.1, 0.35]])  # w1, w2, u1, u2, b (Mazur's net_h1)
    assert op.forward(values) == pytest.approx([0.3775], abs=1e-15)
    assert op.local(values, None)[0].tolist() == [0.05, 0.1, 0.15, 0.2, 1.0]
    assert [str(op.textbook(k)) for k in range(5)] == ["u2", "u3", "u0", "u1", "1"]


@pytest.mark.parametrize("log", ["ln", "log10", "log2"])
@pytest.mark.parametrize("kind", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_a_loss_term_computes_what_it_prints(kind, log):
    op = F.loss_term(LossSpec(kind, 0.5, "sum", "sum", log))
    assert F.check_textbook_form(op)
    o = RNG.uniform(0.05, 0.95, size=20)
    y = RNG.uniform(0.0, 1.0, size=20) if kind != "cross_entropy" else RNG.integers(0, 2, size=20).astype(float)
    values = np.stack([o, y], axis=1)
    term = op.forward(values)
    assert term == pytest.approx(numeric(op.expression([F.ARG[0], F.ARG[1]]), [F.ARG[0], F.ARG[1]], o, y), rel=1e-12, abs=1e-14)
    local = op.local(values, term)
    assert local[:, 0] == pytest.approx(numeric(op.textbook(0), [F.ARG[0], F.ARG[1]], o, y), rel=1e-12, abs=1e-14)


def test_an_absent_class_costs_nothing():
    """0 · log 0 = 0: a cross-entropy target of 0 contributes nothing, whatever its output."""
    op = F.loss_term(LossSpec("cross_entropy"))
    values = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0]])
    assert op.forward(values).tolist() == [0.0, 0.0, pytest.approx(np.log(2))]
    assert op.local(values, op.forward(values))[:, 0].tolist() == [0.0, 0.0, -2.0]


def test_a_textbook_form_that_is_not_the_derivative_is_refused():
    class Wrong(F.Sigmoid):
        def slope(self, z, a):
            return a * (1 + a)

    with pytest.raises(F.TextbookFormError, match="argument 1: the textbook form is not SymPy's derivative") as refused:
        F.check_textbook_form(Wrong())
    assert isinstance(refused.value.op, Wrong) and refused.value.wrt == 0


def test_a_loss_term_is_checked_with_respect_to_the_output_and_the_target():
    """½(y − o)² written with ∂/∂y = −(y − o) (the sign of ∂/∂o): refused for the target, argument 2."""

    class WrongTarget(F.SquaredError):
        def textbook(self, wrt, position=0):
            return super().textbook(0, position)

    F.check_textbook_form(F.SquaredError())  # the real one passes
    with pytest.raises(F.TextbookFormError, match="argument 2") as refused:
        F.check_textbook_form(WrongTarget())
    assert refused.value.wrt == 1


def test_each_operation_checks_its_own_textbook_form():
    """check() is a method of the operation's class (no ladder); the weighted sum's derivative is
    SymPy's own, so it has nothing to prove."""
    assert F.WeightedSum(2).check() is None
    assert F.check_textbook_form(F.Softmax(3)) is True
    assert F.check_textbook_form(F.Total(3, mean=True)) is True


def test_every_textbook_form_is_evaluated_as_printed():
    """The engine's number for a local derivative comes from the very expression it prints."""
    relu = F.ReLU(0)
    fn = F.array_function(relu.textbook(), (F.ARG[0], F.OUT[0]))
    assert fn(np.array([-1.0, 0.0, 2.0]), np.zeros(3)).tolist() == [0.0, 0.0, 1.0]
    tanh = F.Tanh()
    assert F.array_function(tanh.textbook(), (F.ARG[0], F.OUT[0]))(np.zeros(1), np.array([0.5])).tolist() == [0.75]


def test_every_activation_of_the_problem_file_has_its_class_and_its_numpy_twin():
    """The file format (tracer.spec, no SymPy), the operations and the independent NumPy pass name
    the same activations: adding one means its class here and its twin in tracer.numeric."""
    from tracer.spec import models as spec
    from tracer.numeric import mlp as numeric

    assert set(spec.ACTIVATIONS) == set(F.ACTIVATIONS) | {"softmax"}
    for name in spec.ACTIVATIONS:
        params = tuple(spec.ACTIVATION_PARAMETERS.get(name, {}).items())
        assert numeric.activation(ActivationSpec(name, params)).name == name
        assert F.activation(ActivationSpec(name, params), 0, 3).name == name
    assert set(F.LOSSES) == {"mse", "cross_entropy", "binary_cross_entropy", "hinge"}


# ---------------------------------------------------------------------------
# exact_value: more digits where a part's rounding is amplified
# ---------------------------------------------------------------------------


def test_an_amplified_rounding_is_computed_again_with_more_digits():
    """ln((log₂ 2 + 2/10¹⁵⁴)^(10¹⁵⁴)) = 10¹⁵⁴·ln(1 + 2·10⁻¹⁵⁴) = 2 − 2·10⁻¹⁵⁴. At 40 digits the base
    rounds to 1 and that rounding, raised to 10¹⁵⁴, is all of the power: the value was 0 (and so
    was NumPy's). Its error bound says so, and 320 digits give 2."""
    from tracer.core.functions import ARG, exact_value

    a, b = ARG[0], ARG[1]
    assert exact_value(sp.log((sp.log(a, 2) + a / b) ** b), {a: 2.0, b: 1e154}) == 2.0
    # the derivative the engine prints for ∂n0/∂w: ln(1 + 2/w) − 2/(w·(1 + 2/w)) ≈ 2/w² = 2e−308 (it printed −2e−154)
    d = -a / (b * (a / b + sp.log(a) / sp.log(2))) + sp.log(a / b + sp.log(a) / sp.log(2))
    assert exact_value(d, {a: 2.0, b: 1e154}) == pytest.approx(2e-308, rel=1e-6)


def test_a_cancellation_is_zero_and_a_small_difference_is_not():
    """x − x is 0 (the relative zero: below 10⁻⁵⁰ of its terms), also inside ln(1 + x − x) at x = 10³⁰⁰;
    (1 + 10⁻⁴⁵) − 1, which 40 digits round to 0, is 10⁻⁴⁵; √(|a| − a) at a = 3.612 is √0 = 0."""
    from tracer.core.functions import ARG, exact_value

    a, b = ARG[0], ARG[1]
    assert exact_value(a - a + b, {a: 1e300, b: 1.0}) == 1.0
    assert exact_value(sp.log(1 + a - a), {a: 1e300}) == 0.0
    assert exact_value((1 + a) - 1, {a: 1e-45}) == 1e-45
    assert exact_value(sp.sinh((sp.Abs(a) - a) ** sp.Rational(1, 2)), {a: 3.612}) == 0.0


def test_a_rounding_no_digits_settle_is_refused_by_name():
    """ln((1 + a/b⁵)^(b⁵)) at a = 1, b = 10³⁰⁰ is ln(e) = 1 in exact arithmetic, but its base 1 + 10⁻¹⁵⁰⁰ is 1 to
    every precision up to 1,500 digits: not a number to print, a NotReal that says why."""
    from tracer.core.functions import ARG, NotReal, Unsettled, exact_value

    a, b = ARG[0], ARG[1]
    with pytest.raises(Unsettled, match="amplified beyond every digit even at 1,280 digits") as err:
        exact_value(sp.log((1 + a / b**5) ** (b**5)), {a: 1.0, b: 1e300})
    assert isinstance(err.value, NotReal)
