"""Every number the source texts publish for their worked examples, to the text's own rounding.

One section per example file (examples/*.yaml; each file's header cites its source and
lists its errata). A number the text prints correctly is asserted to the rounding it is
printed with: ``printed("0.75136507")`` is ``approx(0.75136507, abs=5e-9)``. Where the
text is wrong the test is named ``..._erratum_...``: it asserts the TRUE value (from an
independent NumPy computation, double-checked by central finite differences) and that
the text's value is outside its own rounding of it.

The last section checks our own examples against the same independent computation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import pytest
import yaml
from pytest import approx

from tracer import load, solve
from tracer.spec import from_mapping

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def printed(text: str):
    """A number as the text prints it: equal to within half a unit of its last digit."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return approx(float(text), abs=0.5 * 10.0**-decimals)


def problem(name: str, **training):
    """An example file, with some of its training settings replaced (order, steps)."""
    loaded = load(EXAMPLES / f"{name}.yaml")
    if training:
        loaded = dataclasses.replace(loaded, training=dataclasses.replace(loaded.training, **training))
    return loaded


@functools.lru_cache(maxsize=None)
def solved(name: str, order: str | None = None, steps: int | None = None):
    training = {k: v for k, v in (("order", order), ("steps", steps)) if v is not None}
    return solve(problem(name, **training))


def at_updated_parameters(name: str, solution):
    """The text's second forward pass: the same problem solved again at the updated parameters."""
    start = problem(name)
    updated = start.with_parameters({p: solution.value(f"{p}'") for p in start.trainable()})
    return solve(dataclasses.replace(updated, training=dataclasses.replace(updated.training, steps=1)))


# ===========================================================================
# Source 002: Mazur's 2-2-2 example (examples/mazur.yaml, simultaneous order)
# ===========================================================================


def test_mazur_forward_pass():
    sol = solved("mazur")
    assert sol.value("z1[1]") == printed("0.3775")  # net_h1
    assert sol.value("a1[1]") == printed("0.593269992")  # out_h1
    assert sol.value("a1[2]") == printed("0.596884378")  # out_h2
    assert sol.value("z2[1]") == printed("1.105905967")  # net_o1
    assert sol.value("a2[1]") == printed("0.75136507")  # out_o1
    assert sol.value("a2[2]") == printed("0.772928465")  # out_o2


def test_mazur_total_error():
    sol = solved("mazur")
    assert sol.value("loss[1]") == printed("0.274811083")  # E_o1
    assert sol.value("loss[2]") == printed("0.023560026")  # E_o2
    assert sol.value("loss") == printed("0.298371109")  # E_total


def test_mazur_output_layer_gradient_of_w5():
    sol = solved("mazur")
    assert sol.value("dloss/da2[1]") == printed("0.74136507")  # dE_total/dout_o1
    assert sol.value("da2[1]/dz2[1]") == printed("0.186815602")  # dout_o1/dnet_o1
    assert sol.value("dz2[1]/dW2[1,1]") == printed("0.593269992")  # dnet_o1/dw5 = out_h1
    assert sol.value("dloss/dW2[1,1]") == printed("0.082167041")  # dE_total/dw5


def test_mazur_output_layer_updates():
    sol = solved("mazur")
    assert sol.value("W2[1,1]'") == printed("0.35891648")  # w5+
    assert sol.value("W2[1,2]'") == printed("0.408666186")  # w6+
    assert sol.value("W2[2,1]'") == printed("0.511301270")  # w7+
    assert sol.value("W2[2,2]'") == printed("0.561370121")  # w8+


def test_mazur_hidden_layer_sums_both_paths():
    sol = solved("mazur")
    assert sol.value("dloss/dz2[1]") == printed("0.138498562")  # dE_o1/dnet_o1
    assert sol.value("dz2[1]/da1[1]") == printed("0.40")  # dnet_o1/dout_h1 = w5
    dEo1_douth1 = sol.value("dloss/dz2[1]") * sol.value("dz2[1]/da1[1]")
    assert dEo1_douth1 == printed("0.055399425")
    assert sol.value("dloss/da1[1]") == printed("0.036350306")  # dE_total/dout_h1


def test_mazur_erratum_dEo2_douth1_last_digit():
    # The text prints dE_o2/dout_h1 = -0.019049119; dE/dnet_o2 * w7 = -0.0380982365 * 0.5
    # = -0.0190491183 (finite differences agree), i.e. -0.019049118 to 9 decimals.
    sol = solved("mazur")
    assert sol.value("dz2[2]/da1[1]") == printed("0.50")  # w7
    dEo2_douth1 = sol.value("dloss/dz2[2]") * sol.value("dz2[2]/da1[1]")
    assert dEo2_douth1 == approx(-0.0190491182576, abs=1e-12)
    assert dEo2_douth1 != printed("-0.019049119")


def test_mazur_hidden_layer_gradient_of_w1():
    sol = solved("mazur")
    assert sol.value("da1[1]/dz1[1]") == printed("0.241300709")  # dout_h1/dnet_h1
    assert sol.value("dz1[1]/dW1[1,1]") == printed("0.05")  # dnet_h1/dw1 = i1
    assert sol.value("dloss/dW1[1,1]") == printed("0.000438568")  # dE_total/dw1


def test_mazur_hidden_layer_updates_are_simultaneous():
    # w1+..w4+ back-propagate through the old w5..w8 (dnet_o1/dout_h1 = w5 = 0.40).
    sol = solved("mazur")
    assert sol.value("W1[1,1]'") == printed("0.149780716")  # w1+
    assert sol.value("W1[1,2]'") == printed("0.19956143")  # w2+
    assert sol.value("W1[2,1]'") == printed("0.24975114")  # w3+
    assert sol.value("W1[2,2]'") == printed("0.29950229")  # w4+


def test_mazur_erratum_slide_writes_w3_for_w2_in_net_h1():
    # One slide writes net_h1 = w1*i1 + w3*i2 + b1. w2+ = 0.19956143 = 0.2 - 0.5 * delta_h1 * i2:
    # w2 (canonical W1[1,2]) joins i2 to h1; w3 (W1[2,1]) joins i1 to h2 (w3+ = 0.24975114).
    sol = solved("mazur")
    assert sol.value("dz1[1]/dW1[1,2]") == printed("0.10")  # i2
    assert sol.value("dloss/dW1[1,2]") == approx(2 * sol.value("dloss/dW1[1,1]"), rel=1e-12)  # i2 = 2 * i1
    assert sol.value("W1[1,2]'") == printed("0.19956143")
    assert sol.value("W1[2,1]'") == printed("0.24975114")


def test_mazur_erratum_loss_after_one_step_is_from_sequential_order():
    # The text prints 0.291027924 after the first round; with its own (simultaneous)
    # updates the loss is 0.2910277737. Sequential order gives the printed number.
    assert solved("mazur").value("loss_after") == approx(0.291027773694, abs=1e-11)
    assert solved("mazur").value("loss_after") != printed("0.291027924")
    sequential = solved("mazur", order="sequential")
    assert sequential.value("loss_after") == printed("0.291027924")
    assert sequential.value("W2[1,1]'") == printed("0.35891648")  # the output layer is the same
    assert sequential.value("W1[1,1]'") == approx(0.149817638561, abs=1e-11)  # not the text's w1+
    assert sequential.value("W1[1,1]'") != printed("0.149780716")


@pytest.mark.slow
def test_mazur_10000_steps_outputs_are_sequential_order():
    # "when we feed forward 0.05 and 0.1, the two outputs neurons generate 0.015912196
    # (vs 0.01 target) and 0.984065734 (vs 0.99 target)": sequential order.
    sol = solved("mazur", order="sequential", steps=10000)
    final = at_updated_parameters("mazur", sol)
    assert final.value("a2[1]") == printed("0.015912196")
    assert final.value("a2[2]") == printed("0.984065734")
    assert final.value("loss") == approx(sol.value("loss_after"), rel=1e-12)


@pytest.mark.slow
def test_mazur_10000_steps_simultaneous_outputs_differ_from_text():
    sol = solved("mazur", steps=10000)
    final = at_updated_parameters("mazur", sol)
    assert final.value("a2[1]") == approx(0.0159136204436, abs=1e-10)
    assert final.value("a2[1]") != printed("0.015912196")
    assert final.value("a2[2]") == approx(0.9840642735146, abs=1e-10)
    assert sol.value("loss_after") == approx(3.5101877830e-05, rel=1e-7)


@pytest.mark.slow
def test_mazur_erratum_error_after_10000_steps():
    # The text prints 0.0000351085 beside the sequential outputs; sequential order's
    # error after 10,000 steps is 0.0000350848 (3.5084786e-05).
    sol = solved("mazur", order="sequential", steps=10000)
    assert sol.value("loss_after") == approx(3.5084786296e-05, rel=1e-7)
    assert sol.value("loss_after") != printed("0.0000351085")


@pytest.mark.slow
def test_mazur_erratum_error_after_10000_steps_is_simultaneous_after_9999():
    # The probable source of the printed 0.0000351085: simultaneous order, one step short.
    sol = solved("mazur", steps=9999)
    assert sol.value("loss_after") == printed("0.0000351085")
    assert sol.value("loss_after") == approx(3.5108548123e-05, rel=1e-7)


# ===========================================================================
# Source 000: the 2-2-3 ReLU/softmax classifier (examples/relu_softmax_3class.yaml)
# ===========================================================================


def test_relu_softmax_forward_sample_1():
    sol = solved("relu_softmax_3class")
    assert sol.value("z1[1]#1") == printed("1.752")  # (1) N_1^input
    assert sol.value("z1[2]#1") == printed("0.808")  # (2) N_2^input
    assert sol.value("a1[1]#1") == printed("1.752")  # (3) N_1^output
    assert sol.value("a1[2]#1") == printed("0.808")  # (4) N_2^output
    assert sol.value("z2[1]#1") == printed("-0.9632")  # (5) O_1^input
    assert sol.value("z2[2]#1") == printed("0.0032")  # (6)
    assert sol.value("z2[3]#1") == printed("0.1352")  # (7)
    assert sol.value("a2[3]#1") == printed("0.4525")  # (10) Pred_3


def test_relu_softmax_erratum_sample_1_preds_truncated():
    # (8), (9): the text prints 0.1508 and 0.3965, truncating 0.150879 and 0.396580.
    sol = solved("relu_softmax_3class")
    assert sol.value("a2[1]#1") == approx(0.150878987768, abs=1e-11)
    assert sol.value("a2[1]#1") != printed("0.1508")
    assert sol.value("a2[2]#1") == approx(0.396580128427, abs=1e-11)
    assert sol.value("a2[2]#1") != printed("0.3965")


def test_relu_softmax_erratum_ce_sample_1():
    # (11): the text prints 1.8918 = -ln 0.1508 (its truncated Pred_1); -ln 0.150879 = 1.8913.
    sol = solved("relu_softmax_3class")
    assert sol.value("loss#1") == approx(1.89127716897, abs=1e-10)
    assert sol.value("loss#1") != printed("1.8918")


def test_relu_softmax_erratum_sample_2_truncated():
    # The text prints Pred 0.03511, 0.2594, 0.7053 (truncated) and CE 1.34938 = -ln 0.2594.
    sol = solved("relu_softmax_3class")
    assert sol.value("a2[1]#2") == approx(0.0351190269593, abs=1e-12)
    assert sol.value("a2[1]#2") != printed("0.03511")
    assert sol.value("a2[2]#2") == approx(0.259496460342, abs=1e-11)
    assert sol.value("a2[2]#2") != printed("0.2594")
    assert sol.value("a2[3]#2") == approx(0.705384512698, abs=1e-11)
    assert sol.value("a2[3]#2") != printed("0.7053")
    assert sol.value("loss#2") == approx(1.34901221677, abs=1e-10)
    assert sol.value("loss#2") != printed("1.34938")


def test_relu_softmax_sample_2_hidden_units_are_dead():
    # x = (1, 0.54): both N^input are negative, so the output is the softmax of the biases.
    sol = solved("relu_softmax_3class")
    assert sol.value("z1[1]#2") == approx(-0.576, abs=1e-12)
    assert sol.value("z1[2]#2") == approx(-0.584, abs=1e-12)
    assert sol.value("a1[1]#2") == 0.0 and sol.value("a1[2]#2") == 0.0
    assert sol.value("dloss#2/dW1[1,1]") == 0.0


def test_relu_softmax_sample_3_uses_x2_0_37():
    # The text's "sample3 (x1 = 0.5, x2 = 0.37)" reproduces its Pred_1 = 0.0408.
    sol = solved("relu_softmax_3class")
    assert sol.value("x[2]#3") == 0.37
    assert sol.value("a2[1]#3") == printed("0.0408")


def test_relu_softmax_sample_3_table_value_0_65_does_not_reproduce_the_text():
    start = problem("relu_softmax_3class")
    third = dataclasses.replace(start.data[2], x=(0.5, 0.65))
    table = solve(dataclasses.replace(start, data=start.data[:2] + (third,)))
    assert table.value("a2[1]#3") == approx(0.0519558583806, abs=1e-11)
    assert table.value("a2[1]#3") != printed("0.0408")
    assert table.value("loss#3") == approx(1.0493607982, abs=1e-9)
    assert table.value("loss#3") != printed("1.1847")


def test_relu_softmax_erratum_sample_3_preds_and_ce():
    # The text prints Pred 0.65338, 0.30581 and CE 1.1847 (1.18465 rounded twice).
    sol = solved("relu_softmax_3class")
    assert sol.value("a2[2]#3") == approx(0.653345542101, abs=1e-11)
    assert sol.value("a2[2]#3") != printed("0.65338")
    assert sol.value("a2[3]#3") == approx(0.305853475877, abs=1e-11)
    assert sol.value("a2[3]#3") != printed("0.30581")
    assert sol.value("loss#3") == approx(1.18464912871, abs=1e-10)
    assert sol.value("loss#3") != printed("1.1847")


def test_relu_softmax_erratum_ce_total():
    # CE^total = 1.8918 + 1.34938 + 1.1847 = 4.42588 in the text; true 4.4249385.
    sol = solved("relu_softmax_3class")
    assert sol.value("loss") == approx(4.42493851445, abs=1e-10)
    assert sol.value("loss") != printed("4.42588")


def test_relu_softmax_chain_factors_as_equations_13_to_21():
    sol = solved("relu_softmax_3class")
    pred1 = sol.value("a2[1]#1")
    assert sol.value("dloss#1/da2[1]") == approx(-1 / pred1, rel=1e-12)  # (13)
    assert sol.value("da2[1]/dz2[1]#1") == approx(pred1 * (1 - pred1), rel=1e-12)  # (14)
    assert sol.value("dz2[1]/db2[1]#1") == 1.0  # (15)
    assert sol.value("dloss#1/db2[1]") == approx(pred1 - 1, rel=1e-12)  # (16)
    assert sol.value("dloss#2/da2[2]") == approx(-1 / sol.value("a2[2]#2"), rel=1e-12)  # (17)
    assert sol.value("da2[2]/dz2[1]#2") == approx(-sol.value("a2[2]#2") * sol.value("a2[1]#2"), rel=1e-12)  # (18)
    assert sol.value("dloss#2/db2[1]") == approx(sol.value("a2[1]#2"), rel=1e-12)  # (20)
    assert sol.value("dloss#3/db2[1]") == approx(sol.value("a2[1]#3"), rel=1e-12)  # (21)


def test_relu_softmax_erratum_per_sample_gradients_of_b_O1():
    # The text: -0.8492 (= 0.1508 - 1, truncated Pred), 0.03511 (truncated), 0.0408 (right).
    sol = solved("relu_softmax_3class")
    assert sol.value("dloss#1/db2[1]") == approx(-0.849121012232, abs=1e-11)
    assert sol.value("dloss#1/db2[1]") != printed("-0.8492")
    assert sol.value("dloss#2/db2[1]") == approx(0.0351190269593, abs=1e-12)
    assert sol.value("dloss#2/db2[1]") != printed("0.03511")
    assert sol.value("dloss#3/db2[1]") == printed("0.0408")


def test_relu_softmax_erratum_total_gradient_of_b_O1():
    # (22): the text prints -0.77329; true -0.7732010.
    sol = solved("relu_softmax_3class")
    assert sol.value("dloss/db2[1]") == approx(-0.773201003251, abs=1e-11)
    assert sol.value("dloss/db2[1]") != printed("-0.77329")


def test_relu_softmax_erratum_updated_b_O1():
    # b'_O1 = -2 - 0.5 * (-0.7732010) = -1.6133995; the text prints -1.6133.
    sol = solved("relu_softmax_3class")
    assert sol.value("b2[1]'") == approx(-1.61339949837, abs=1e-10)
    assert sol.value("b2[1]'") != printed("-1.6133")


def test_relu_softmax_only_b_O1_is_updated():
    sol = solved("relu_softmax_3class")
    assert sol.value("b2[2]'") == 0.0
    assert sol.value("b2[3]'") == 1.0
    assert sol.value("W2[1,1]'") == -0.1
    assert sol.value("b1[1]'") == 1.6


def test_relu_softmax_erratum_new_cross_entropies():
    # The text: 1.5733 + 1.3657 + 1.2039 = 4.1429; true 1.5734656, 1.3654514, 1.2037228, 4.1426399.
    sol = solved("relu_softmax_3class")
    again = at_updated_parameters("relu_softmax_3class", sol)
    for s, true, text in [(1, 1.57346561428, "1.5733"), (2, 1.36545141793, "1.3657"), (3, 1.20372283466, "1.2039")]:
        assert again.value(f"loss#{s}") == approx(true, abs=1e-10)
        assert again.value(f"loss#{s}") != printed(text)
    assert sol.value("loss_after") == approx(4.14263986687, abs=1e-10)
    assert sol.value("loss_after") != printed("4.1429")
    assert sol.value("loss_after") < sol.value("loss")  # the text's conclusion holds


# ===========================================================================
# Source 001: Zhu, Example 1 (examples/zhu_example1.yaml)
# w^{[l]}_{i,j} joins node i to node j: canonical W<l>[j,i]
# ===========================================================================


def test_zhu_example1_forward_pass():
    sol = solved("zhu_example1")
    assert sol.value("z1[1]") == printed("1.25")
    assert sol.value("z1[2]") == printed("3.8")
    assert sol.value("a1[1]") == printed("0.777")  # h1
    assert sol.value("a1[2]") == printed("0.978")  # h2
    assert sol.value("a2[1]") == printed("1.755")  # y^
    assert sol.value("loss") == printed("2.52")  # J


def test_zhu_example1_erratum_output_layer_gradients():
    # The text: -1.744 and -2.196, from the rounded (1.755 - 4) * 0.777 and * 0.978.
    sol = solved("zhu_example1")
    assert sol.value("dloss/dW2[1,1]") == approx(-1.7447128182, abs=1e-9)  # dJ/dw^{[2]}_{1,1}
    assert sol.value("dloss/dW2[1,1]") != printed("-1.744")
    assert sol.value("dloss/dW2[1,2]") == approx(-2.1954671158, abs=1e-9)  # dJ/dw^{[2]}_{2,1}
    assert sol.value("dloss/dW2[1,2]") != printed("-2.196")


def test_zhu_example1_erratum_input_layer_gradient_w11_truncated():
    # The text: dJ/dw^{[1]}_{1,1} = -0.388; true -0.3885478 (-0.389).
    sol = solved("zhu_example1")
    assert sol.value("dloss/dW1[1,1]") == approx(-0.388547786824, abs=1e-11)
    assert sol.value("dloss/dW1[1,1]") != printed("-0.388")


def test_zhu_example1_input_layer_gradients():
    sol = solved("zhu_example1")
    assert sol.value("dloss/dW1[1,2]") == printed("-0.194")  # dJ/dw^{[1]}_{2,1}
    assert sol.value("dloss/dW1[2,1]") == printed("-0.048")  # dJ/dw^{[1]}_{1,2}
    assert sol.value("dloss/dW1[2,2]") == printed("-0.024")  # dJ/dw^{[1]}_{2,2}


def test_zhu_example1_updates():
    sol = solved("zhu_example1")
    assert sol.value("W2[1,1]'") == printed("1.174")
    assert sol.value("W2[1,2]'") == printed("1.220")
    assert sol.value("W1[1,1]'") == printed("0.539")
    assert sol.value("W1[1,2]'") == printed("1.519")
    assert sol.value("W1[2,1]'") == printed("2.305")
    assert sol.value("W1[2,2]'") == printed("3.002")


def test_zhu_example1_second_round_z1_and_h1():
    again = at_updated_parameters("zhu_example1", solved("zhu_example1"))
    assert again.value("z1[1]") == printed("1.299")
    assert again.value("a1[1]") == printed("0.786")


def test_zhu_example1_erratum_second_round_z2_is_3_806_not_2_806():
    # 2.305 * 1 + 3.002 * 0.5 = 3.806; the text writes 2.806 and carries it on:
    # h2 0.943 -> 0.978, y^ 2.073 -> 2.116, J 1.857 -> 1.775.
    sol = solved("zhu_example1")
    again = at_updated_parameters("zhu_example1", sol)
    assert again.value("z1[2]") == approx(3.80600495135, abs=1e-10)
    assert again.value("z1[2]") != printed("2.806")
    assert again.value("a1[2]") == approx(0.978246881599, abs=1e-11)
    assert again.value("a1[2]") != printed("0.943")
    assert again.value("a2[1]") == approx(2.11567531378, abs=1e-10)
    assert again.value("a2[1]") != printed("2.073")
    assert sol.value("loss_after") == approx(1.77533976154, abs=1e-10)
    assert sol.value("loss_after") != printed("1.857")
    assert sol.value("loss_after") < 2.52  # "The prediction error reduced." still holds


# ===========================================================================
# Source 001: Zhu, Example 2 (examples/zhu_example2.yaml)
# ===========================================================================


def test_zhu_example2_forward_pass_sample_1():
    sol = solved("zhu_example2")
    assert sol.value("z1[1]#1") == printed("0.5")
    assert sol.value("a1[1]#1") == printed("0.462")
    assert sol.value("a2[1]#1") == printed("0.462")


def test_zhu_example2_erratum_J1():
    # J_(1) = 1/2 (0.462 - 3)^2 = 3.221 with the rounded y^; true 3.2204247.
    sol = solved("zhu_example2")
    assert sol.value("loss#1") == approx(3.22042466174, abs=1e-10)
    assert sol.value("loss#1") != printed("3.221")


def test_zhu_example2_sample_1_gradients():
    sol = solved("zhu_example2")
    assert sol.value("dloss#1/dW2[1,1]") == printed("-1.173")
    assert sol.value("dloss#1/dW1[1,1]") == printed("-1.996")
    assert sol.value("da1[1]/dz1[1]#1") == approx(1 - sol.value("a1[1]#1") ** 2, rel=1e-12)  # 1 - f^2(z)


def test_zhu_example2_erratum_sample_2_gradients():
    # The text: -3.229 and -3.555 (computed with h rounded to 0.762); true -3.2279451, -3.5600434.
    sol = solved("zhu_example2")
    assert sol.value("dloss#2/dW2[1,1]") == approx(-3.22794512139, abs=1e-10)
    assert sol.value("dloss#2/dW2[1,1]") != printed("-3.229")
    assert sol.value("dloss#2/dW1[1,1]") == approx(-3.56004340769, abs=1e-10)
    assert sol.value("dloss#2/dW1[1,1]") != printed("-3.555")


def test_zhu_example2_erratum_sample_3_gradients():
    # The text: -5.516 and -3.309 (computed with h rounded to 0.905); true -5.5167444, -3.3041405.
    sol = solved("zhu_example2")
    assert sol.value("dloss#3/dW2[1,1]") == approx(-5.51674441444, abs=1e-10)
    assert sol.value("dloss#3/dW2[1,1]") != printed("-5.516")
    assert sol.value("dloss#3/dW1[1,1]") == approx(-3.30414052147, abs=1e-10)
    assert sol.value("dloss#3/dW1[1,1]") != printed("-3.309")


def test_zhu_example2_mean_gradients_and_w2_update():
    # (-1.173 - 3.229 - 5.516)/3 = -3.306 and (-1.996 - 3.555 - 3.309)/3 = -2.953
    sol = solved("zhu_example2")
    assert sol.value("dloss/dW2[1,1]") == printed("-3.306")
    assert sol.value("dloss/dW1[1,1]") == printed("-2.953")
    assert sol.value("W2[1,1]'") == printed("4.306")


def test_zhu_example2_erratum_w1_update_starts_from_wrong_value():
    # The text: w^{[1]}_{1,1,new} = 1 - 1 * (-1.996 - 3.555 - 3.309)/3 = 3.953, starting
    # from 1 (the old w^{[2]}); w^{[1]}_{1,1} was 0.5: 0.5 + 2.9533654 = 3.4533654.
    sol = solved("zhu_example2")
    assert sol.value("W1[1,1]") == 0.5
    assert sol.value("W1[1,1]'") == approx(3.45336537912, abs=1e-10)
    assert sol.value("W1[1,1]'") != printed("3.953")


# ===========================================================================
# Source 001: Zhu, Quiz 1.2 and 1.3 (no published answers: expected values from an
# independent NumPy computation, gradients checked by central finite differences)
# ===========================================================================


def test_zhu_quiz1_2_one_update_with_relu():
    sol = solved("zhu_quiz1_2")
    assert sol.value("z1[1]") == approx(1.0, abs=1e-12)
    assert sol.value("a1[1]") == approx(1.0, abs=1e-12)  # ReLU(1) = 1; the kink at 0 is not met
    assert sol.value("a2[1]") == approx(2.0, abs=1e-12)
    assert sol.value("loss") == approx(1.125, abs=1e-12)
    assert sol.value("da1[1]/dz1[1]") == 1.0
    assert sol.value("dloss/dW2[1,1]") == approx(1.5, abs=1e-12)
    assert sol.value("dloss/dW1[1,1]") == approx(3.0, abs=1e-12)
    assert sol.value("W2[1,1]'") == approx(1.85, abs=1e-12)
    assert sol.value("W1[1,1]'") == approx(0.7, abs=1e-12)
    assert sol.value("loss_after") == approx(0.3160125, abs=1e-12)


def test_zhu_quiz1_3_one_update_with_two_samples():
    sol = solved("zhu_quiz1_3")
    assert sol.value("a1[1]#1") == approx(0.524979187479, abs=1e-11)
    assert sol.value("a2[1]#1") == approx(0.157493756244, abs=1e-11)
    assert sol.value("loss#1") == approx(0.0979058878817, abs=1e-12)
    assert sol.value("a1[1]#2") == approx(0.549833997312, abs=1e-11)
    assert sol.value("a2[1]#2") == approx(0.164950199194, abs=1e-11)
    assert sol.value("loss#2") == approx(0.201644124752, abs=1e-11)
    assert sol.value("loss") == approx(0.149775006317, abs=1e-11)  # J = 1/2 (J_(1) + J_(2))
    assert sol.value("dloss#1/dW2[1,1]") == approx(-0.232306568302, abs=1e-11)
    assert sol.value("dloss#1/dW1[1,1]") == approx(-0.0331051364486, abs=1e-12)
    assert sol.value("dloss#2/dW2[1,1]") == approx(-0.34917197047, abs=1e-11)
    assert sol.value("dloss#2/dW1[1,1]") == approx(-0.0943112101181, abs=1e-12)
    assert sol.value("dloss/dW2[1,1]") == approx(-0.290739269386, abs=1e-11)
    assert sol.value("dloss/dW1[1,1]") == approx(-0.0637081732834, abs=1e-12)
    assert sol.value("W2[1,1]'") == approx(0.329073926939, abs=1e-11)
    assert sol.value("W1[1,1]'") == approx(0.106370817328, abs=1e-11)
    assert sol.value("loss_after") == approx(0.141011843237, abs=1e-11)


# ===========================================================================
# Source 002: Yeum's 3-3-3-3 network (examples/yeum_3333.yaml)
# ===========================================================================


def test_yeum_layer_1():
    sol = solved("yeum_3333")
    for j, text in enumerate(["1.35", "1.27", "1.8"], start=1):
        assert sol.value(f"z1[{j}]") == printed(text)  # h1_in
        assert sol.value(f"a1[{j}]") == printed(text)  # h1_out = relu(h1_in)


def test_yeum_first_layer_matrix_is_the_initialisation_slides():
    # The "Layer-1 Example" slide prints another matrix, which gives [1.42 1.32 1.8].
    raw = yaml.safe_load((EXAMPLES / "yeum_3333.yaml").read_text())
    raw["network"]["layers"][0]["weights"] = [[0.1, 0.4, 0.3], [0.3, 0.7, 0.7], [0.5, 0.2, 0.9]]
    other = solve(from_mapping(raw))
    assert other.value("z1[1]") == approx(1.42, abs=1e-12)
    assert other.value("z1[1]") != printed("1.35")
    assert other.value("z1[2]") == approx(1.32, abs=1e-12)
    assert other.value("z1[2]") != printed("1.27")


def test_yeum_layer_2():
    sol = solved("yeum_3333")
    assert sol.value("z2[1]") == printed("2.73")
    assert sol.value("z2[2]") == printed("2.76")
    assert sol.value("a2[2]") == printed("0.94")
    assert sol.value("a2[3]") == printed("0.98")


def test_yeum_erratum_h2_in3_is_4_004():
    # 1.35 * 0.5 + 1.27 * 0.7 + 1.8 * 0.8 + 1 = 4.004; the text prints 4.001.
    sol = solved("yeum_3333")
    assert sol.value("z2[3]") == approx(4.004, abs=1e-12)
    assert sol.value("z2[3]") != printed("4.001")


def test_yeum_erratum_h2_out1_truncated():
    sol = solved("yeum_3333")
    assert sol.value("a2[1]") == approx(0.938831289487, abs=1e-11)
    assert sol.value("a2[1]") != printed("0.938")


def test_yeum_erratum_output_inputs_from_rounded_hidden_outputs():
    # The text multiplies the rounded [0.938 0.94 0.98]: 1.8658, 2.2292, 2.8204.
    sol = solved("yeum_3333")
    for k, true, text in [(1, 1.86706797156, "1.8658"), (2, 2.23028232057, "2.2292"), (3, 2.82303603273, "2.8204")]:
        assert sol.value(f"z3[{k}]") == approx(true, abs=1e-10)
        assert sol.value(f"z3[{k}]") != printed(text)


def test_yeum_erratum_softmax_is_not_z_over_sum_z():
    # The text's 0.2698, 0.3223, 0.4078 are O_in / sum(O_in) (1.8658 / 6.9154 = 0.2698),
    # not the softmax.
    assert 1.8658 / (1.8658 + 2.2292 + 2.8204) == printed("0.2698")
    sol = solved("yeum_3333")
    for k, true, text in [(1, 0.198446894233, "0.2698"), (2, 0.285355530425, "0.3223"), (3, 0.516197575342, "0.4078")]:
        assert sol.value(f"a3[{k}]") == approx(true, abs=1e-11)
        assert sol.value(f"a3[{k}]") != printed(text)


def test_yeum_erratum_error_terms_and_sum():
    # Even from its own outputs the text slips: -log10(0.2698) = 0.568958 (printed 0.569858),
    # -log10(0.6777) = 0.168963 (printed 0.16886); its three terms add to 0.966248, not 0.985.
    assert -math.log10(0.2698) != printed("0.569858")
    assert -math.log10(1 - 0.3223) != printed("0.16886")
    assert -math.log10(1 - 0.4078) == printed("0.22753")
    sol = solved("yeum_3333")
    for k, true, text in [(1, 0.702355693573, "0.569858"), (2, 0.145909962819, "0.16886"), (3, 0.315331959428, "0.22753")]:
        assert sol.value(f"loss[{k}]") == approx(true, abs=1e-11)
        assert sol.value(f"loss[{k}]") != printed(text)
    assert sol.value("loss") == approx(1.16359761582, abs=1e-10)
    assert sol.value("loss") != printed("0.985")


def test_yeum_erratum_cross_entropy_derivative_sign_and_ln10():
    # The slides: dE_k/dO_out_k = -(y_k/O + (1 - y_k)/(1 - O)); the derivative of
    # -(y log10 O + (1 - y) log10(1 - O)) is -(y/O - (1 - y)/(1 - O)) / ln 10.
    sol = solved("yeum_3333")
    o1, o2 = sol.value("a3[1]"), sol.value("a3[2]")
    assert sol.value("dloss/da3[1]") == approx(-1 / (o1 * math.log(10)), rel=1e-12)
    assert sol.value("dloss/da3[2]") == approx(1 / ((1 - o2) * math.log(10)), rel=1e-12)
    assert sol.value("dloss/da3[2]") > 0  # the slides' formula gives -1/(1 - O_out2) < 0


def test_yeum_erratum_softmax_backward_needs_every_output():
    # The slides use only dO_out1/dO_in1; every output depends on O_in1 through the softmax.
    sol = solved("yeum_3333")
    every_path = sum(sol.value(f"dloss/da3[{m}]") * sol.value(f"da3[{m}]/dz3[1]") for m in (1, 2, 3))
    diagonal_only = sol.value("dloss/da3[1]") * sol.value("da3[1]/dz3[1]")
    assert sol.value("dloss/dz3[1]") == approx(every_path, rel=1e-12)
    assert sol.value("dloss/dz3[1]") == approx(-0.474478527895, abs=1e-11)
    assert diagonal_only != approx(every_path, abs=1e-3)


def test_yeum_one_update_with_our_learning_rate():
    # The text gives no learning rate; the file uses 0.1.
    sol = solved("yeum_3333")
    assert sol.value("dloss/dW3[1,1]") == approx(-0.445455288178, abs=1e-11)  # W_{k1 l1}
    assert sol.value("W3[1,1]'") == approx(0.144545528818, abs=1e-11)
    assert sol.value("dloss/dW1[1,3]") == approx(0.00309063414759, abs=1e-13)  # W_{i3 j1}
    assert sol.value("loss_after") == approx(1.02885200533, abs=1e-10)


# ===========================================================================
# Our own examples (no source text): values from an independent NumPy computation,
# every gradient checked by central finite differences.
# ===========================================================================


def test_deep_sigmoid_reference_values():
    sol = solved("deep_sigmoid")
    assert sol.value("a3[1]#1") == approx(0.586686218537, abs=1e-11)
    assert sol.value("a3[2]#2") == approx(0.504609758447, abs=1e-11)
    assert sol.value("loss#1") == approx(0.212555585658, abs=1e-11)
    assert sol.value("loss") == approx(0.254028940977, abs=1e-11)
    assert sol.value("dloss/dW3[1,1]") == approx(0.0117489525777, abs=1e-12)
    assert sol.value("dloss/dW1[1,1]") == approx(0.000895641770202, abs=1e-14)
    assert sol.value("dloss/db1[1]") == approx(0.000435154752012, abs=1e-14)
    assert sol.value("W1[1,1]'") == approx(0.149552179115, abs=1e-11)
    assert sol.value("b3[1]'") == approx(0.0894484728351, abs=1e-12)
    assert sol.value("loss_after") == approx(0.253584104469, abs=1e-11)


def test_tanh_regression_reference_values():
    sol = solved("tanh_regression")
    assert sol.value("a2[1]#1") == approx(0.120054140062, abs=1e-11)
    assert sol.value("loss#1") == approx(0.624463627985, abs=1e-11)
    assert sol.value("loss") == approx(0.296158734524, abs=1e-11)
    assert sol.value("dloss/dW1[1,1]") == approx(-0.13014342749, abs=1e-11)
    assert sol.value("dloss/dW2[1,1]") == approx(-0.470755213763, abs=1e-11)
    assert sol.value("dloss/db2[1]") == approx(0.183051646497, abs=1e-11)
    assert sol.value("loss@2") == approx(0.196369419854, abs=1e-11)  # after the first step
    assert sol.value("dloss/dW1[1,1]@2") == approx(-0.124765451161, abs=1e-11)
    assert sol.value("W1[1,1]'") == approx(0.85098177573, abs=1e-11)  # after both steps
    assert sol.value("W2[1,1]'") == approx(0.573151307085, abs=1e-11)
    assert sol.value("loss_after") == approx(0.13226607801, abs=1e-11)


def test_xor_reference_values():
    sol = solved("xor")
    assert sol.value("a2[1]#1") == approx(0.597461799788, abs=1e-11)
    assert sol.value("a2[1]#4") == approx(0.594991005903, abs=1e-11)
    assert sol.value("loss#2") == approx(0.58509220805, abs=1e-11)
    assert sol.value("loss") == approx(0.71398550762, abs=1e-11)
    assert sol.value("dloss/dW2[1,1]") == approx(0.0554559126235, abs=1e-12)
    assert sol.value("dloss/dW1[1,1]") == approx(0.0128232891738, abs=1e-12)
    assert sol.value("dloss/db2[1]") == approx(0.095665809705, abs=1e-11)
    assert sol.value("W1[1,1]'") == approx(0.593588355413, abs=1e-11)
    assert sol.value("b2[1]'") == approx(0.152167095148, abs=1e-11)
    assert sol.value("loss_after") == approx(0.70712807608, abs=1e-11)
