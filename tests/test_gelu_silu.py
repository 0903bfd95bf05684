"""GELU (exact and tanh), SiLU/swish: the local equation, the textbook derivative the texts
write (GELU′ = Φ(z) + z·φ(z), SiLU′ = σ(z)(1 + z(1 − σ(z)))), the document's numbers recomputed
by hand from its own printed decimals, and the NumPy twin (examples/gelu_silu.yaml; torch in
tests/test_torch.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from pytest import approx

from tracer import load, loads
from tracer.core import functions as F
from tracer.core.derive import solve
from tracer.numeric import layers as numeric_layers
from tracer.numeric import mlp as numeric
from tracer.spec import ActivationSpec

EXAMPLE = "examples/gelu_silu.yaml"


def Phi(x: float) -> float:  # the standard normal distribution function, by hand
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def phi(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def example():
    return solve(load(EXAMPLE), verify=True)


def test_the_gelu_forward_step_is_z_times_phi_of_z(example):
    """(3) a1[1] = z1[1]·Φ(z1[1]) = 0.8 × Φ(0.8): Φ(0.8) = 0.788144601 from a table, × 0.8."""
    assert example.value("z1[1]") == approx(0.8, abs=1e-15)
    assert Phi(0.8) == approx(0.788144601, abs=5e-10)
    assert example.value("a1[1]") == approx(0.8 * 0.788144601, abs=1e-9)
    assert example.value("a1[1]") == approx(0.630515681, abs=5e-10)
    assert example.value("a1[2]") == approx(-0.6 * Phi(-0.6), abs=1e-15)
    assert example.value("a1[2]") == approx(-0.164551871, abs=5e-10)


def test_the_gelu_slope_is_phi_plus_z_times_the_density(example):
    """(48) ∂a1[1]/∂z1[1] = Φ(0.8) + 0.8 × φ(0.8) = 0.788144601 + 0.8 × 0.289691553 = 1.01989784."""
    step = example.step("da1[1]/dz1[1]")
    assert str(step.form.symbolic) == "z1[1]*phi(z1[1]) + Phi(z1[1])"
    assert phi(0.8) == approx(0.289691553, abs=5e-10)
    assert step.value == approx(0.788144601 + 0.8 * 0.289691553, abs=2e-9)
    assert step.value == approx(1.01989784, abs=5e-9)
    # below 0 the slope is small but positive: Φ(−0.6) − 0.6·φ(−0.6) = 0.274253118 − 0.6 × 0.333224603
    assert example.value("da1[2]/dz1[2]") == approx(0.274253118 - 0.6 * 0.333224603, abs=2e-9)
    assert example.value("da1[2]/dz1[2]") == approx(0.0743183562, abs=5e-10)


def test_the_silu_forward_and_slope_are_the_texts(example):
    """(7) a2[1] = z2[1]·σ(z2[1]); (26) ∂a2[1]/∂z2[1] = σ(z)(1 + z(1 − σ(z))) at z = 0.507181725."""
    z = example.value("z2[1]")
    assert z == approx(0.507181725, abs=5e-10)
    s = 0.624145573  # σ(0.507181725), to nine digits
    assert sigma(0.507181725) == approx(s, abs=5e-10)
    assert example.value("a2[1]") == approx(0.507181725 * s, abs=1e-9)
    assert example.value("a2[1]") == approx(0.316555228, abs=5e-10)
    step = example.step("da2[1]/dz2[1]")
    assert str(step.form.symbolic) == "(z2[1]*(1 - sigmoid(z2[1])) + 1)*sigmoid(z2[1])"
    assert step.value == approx(s * (1 + 0.507181725 * (1 - s)), abs=2e-9)
    assert step.value == approx(0.743124257, abs=5e-10)


def test_the_chain_through_gelu_multiplies_the_printed_factors(example):
    """(53) ∂loss/∂W1[1,1] = (−0.146701658) × 1.01989784 × 0.5 = −0.0748103522, and the update."""
    assert example.value("dloss/da1[1]") == approx(-0.146701658, abs=5e-10)
    assert example.value("dloss/dW1[1,1]") == approx(-0.146701658 * 1.01989784 * 0.5, abs=1e-9)
    assert example.value("dloss/dW1[1,1]") == approx(-0.0748103522, abs=5e-11)
    assert example.value("W1[1,1]'") == approx(0.8 - 0.5 * (-0.0748103522), abs=1e-10)


def test_the_example_is_verified_by_the_twin_and_finite_differences(example):
    check = example.verification
    assert check.ok and check.quantities == 111 and check.finite_difference_checked == 15
    assert check.max_abs_diff < 1e-15
    assert check.finite_difference_max_diff < 1e-9


def test_the_tanh_approximation_is_torchs_formula():
    """gelu_tanh: ½z(1 + tanh(√(2/π)(z + 0.044715z³))) and its product-rule derivative, by hand at z = 0.8."""
    op = F.activation(ActivationSpec("gelu_tanh", ()))
    assert F.check_textbook_form(op)
    z = 0.8
    t = math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))
    a = op.forward(np.array([[z]]))
    assert float(a[0]) == approx(0.5 * z * (1 + t), rel=1e-15)
    assert float(a[0]) == approx(0.630431691, abs=5e-10)
    slope = float(op.local(np.array([[z]]), a)[0, 0])
    assert slope == approx(0.5 * (1 + t) + 0.5 * z * (1 - t * t) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z * z), rel=1e-14)
    assert slope == approx(1.01958373, abs=5e-9)
    assert abs(slope - (Phi(z) + z * phi(z))) < 5e-4  # close to the exact GELU's, not equal


def test_swish_is_silu_by_another_name():
    problem = loads(open(EXAMPLE, encoding="utf-8").read().replace("activation: silu", "activation: swish"))
    assert problem.layers[1].activation.name == "silu"
    assert numeric_layers._activation("swish", 0, "here").name == "silu"


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu"])
def test_the_twin_computes_each_by_its_own_route(name):
    """The NumPy twin (erf from math.erf; silu′ as a + σ(z)(1 − a)) against the engine's operation."""
    z = np.array([-3.1, -0.6, -1e-3, 0.0, 0.25, 0.8, 4.2])
    op = F.activation(ActivationSpec(name, ()))
    twin = numeric.activation(ActivationSpec(name, ()))
    a = op.forward(z[:, None])
    assert twin.forward(z) == approx(a, rel=1e-14, abs=1e-16)
    assert twin.derivative(z, twin.forward(z)) == approx(op.local(z[:, None], a)[:, 0], rel=1e-13, abs=1e-16)


def test_a_wrong_gelu_derivative_is_refused():
    """Φ(z) alone (the derivative as if Φ were constant) is not SymPy's derivative of ½z(1 + erf(z/√2))."""

    class Wrong(F.GELU):
        def slope(self, z, a):
            return F.Phi(z)

    with pytest.raises(F.TextbookFormError, match="not SymPy's derivative"):
        F.check_textbook_form(Wrong())


def test_the_derivative_is_sympys_of_the_erf_and_exp_forms():
    """What the check compares with is derived from ½z(1 + erf(z/√2)) and z/(1 + e^{−z}), not Φ′ = φ or σ′ = σ(1 − σ) assumed."""
    u = F.ARG[0]
    assert F.GELU().derived(0).has(sp.erf) and not F.GELU().derived(0).has(F.phi)
    assert F.SiLU().derived(0).has(sp.exp) and not F.SiLU().derived(0).has(F.sigmoid)
    assert sp.simplify(F.Phi(u).diff(u) - sp.exp(-u**2 / 2) / sp.sqrt(2 * sp.pi)) == 0
