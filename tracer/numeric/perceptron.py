"""Perceptrons: networks of threshold (``step``) units, read as logic gates (source 003 §3.1).

A perceptron is not trained by backpropagation: the step function's derivative is 0
wherever it exists (and undefined at z = 0), so every chain through it is 0 and
gradient descent never moves a weight. What a worked solution can show instead is
what the source shows: the truth table (every binary input, each unit's z and
output g(z), Tables 1–3 of source 003) and each unit's decision boundary, the line
w_1 u_1 + w_2 u_2 + b = 0 in the plane of its two inputs.

The numbers come from :func:`tracer.numeric.evaluate` (the NumPy forward pass) on
the problem with every binary input as its data; nothing is computed twice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from tracer.numeric import mlp as numeric
from tracer.spec import Problem, Sample

EXPLANATION = (
    "The step (threshold) function g(z) = 1 for z ≥ 0, 0 for z < 0 is flat on both sides of 0: "
    "its derivative is 0 wherever it exists and undefined at z = 0. Every chain rule product "
    "through it is therefore 0, gradient descent never changes a weight, and a perceptron is "
    "not trained by backpropagation; its weights are chosen by hand (as for the AND, OR, NAND "
    "and NOR gates) or found by the perceptron learning rule. Replace step by sigmoid to train it."
)


@dataclass(frozen=True)
class Row:
    x: tuple[float, ...]
    z: tuple[tuple[float, ...], ...]  # per layer, per unit
    a: tuple[tuple[float, ...], ...]
    target: tuple[float, ...] | None  # the problem's target for this input, when it gives one

    @property
    def output(self) -> tuple[float, ...]:
        return self.a[-1]


@dataclass(frozen=True)
class Boundary:
    """Unit ``unit`` of layer ``layer``: w1·u1 + w2·u2 + b = 0 in the plane of its inputs."""

    layer: int
    unit: int
    weights: tuple[float, ...]
    bias: float
    slope: float | None  # u2 = slope·u1 + intercept (None: a vertical line u1 = intercept)
    intercept: float | None


def is_perceptron(problem: Problem) -> bool:
    return all(layer.activation.name == "step" for layer in problem.layers)


def binary_inputs(n: int) -> list[tuple[float, ...]]:
    """Every input of 0s and 1s, x1 changing fastest: (0,0), (1,0), (0,1), (1,1) as source 003's tables."""
    return [tuple(float(v) for v in reversed(bits)) for bits in itertools.product((0, 1), repeat=n)]


def truth_table(problem: Problem) -> list[Row]:
    inputs = binary_inputs(problem.inputs)
    targets = {s.x: s.y for s in problem.data}
    n_out = problem.layers[-1].units
    probe = replace(problem, data=tuple(Sample(x, targets.get(x, (0.0,) * n_out)) for x in inputs))
    result = numeric.evaluate(probe)
    rows = []
    for x, sample in zip(inputs, result.samples):
        rows.append(
            Row(
                x=x,
                z=tuple(tuple(float(v) for v in z) for z in sample.z),
                a=tuple(tuple(float(v) for v in a) for a in sample.a),
                target=targets.get(x),
            )
        )
    return rows


def boundaries(problem: Problem) -> list[Boundary]:
    """The decision line of every unit with two inputs."""
    out = []
    for l, layer in enumerate(problem.layers, 1):
        if layer.inputs != 2:
            continue
        for j, row in enumerate(layer.weights, 1):
            bias = 0.0 if layer.bias is None else (layer.bias[0] if layer.shared_bias else layer.bias[j - 1])
            w1, w2 = row
            if w2 != 0:
                slope, intercept = -w1 / w2, -bias / w2
            elif w1 != 0:
                slope, intercept = None, -bias / w1
            else:
                slope = intercept = None
            out.append(Boundary(l, j, tuple(row), bias, slope, intercept))
    return out


def agrees(rows: list[Row]) -> bool | None:
    """Whether the outputs equal the problem's targets (None: the problem gives no targets for these inputs)."""
    given = [r for r in rows if r.target is not None]
    if not given:
        return None
    return all(tuple(r.output) == tuple(r.target) for r in given)  # type: ignore[arg-type]
