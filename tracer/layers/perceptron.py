"""Perceptrons: networks of threshold (``step``) units, read as logic gates.

A perceptron is not trained by backpropagation: the step function's derivative is 0
wherever it exists (and undefined at z = 0), so every chain through it is 0 and
gradient descent never moves a weight. What a worked solution shows instead is the
truth table (every binary input, each unit's z and output g(z)) and each unit's
decision boundary, the line w_1 u_1 + w_2 u_2 + b = 0 in the plane of its two inputs.

The table is the engine's forward sweep over every binary input (the verification
checks it against the NumPy pass); the lines come from the weights.
"""

from __future__ import annotations

import itertools

import numpy as np

from tracer.core import sweep
from tracer.layers.network import Network
from tracer.layers.network import build as build_network
from tracer.layers.views import Boundary, Perceptron, TruthRow
from tracer.spec import Problem, Sample

EXPLANATION = (
    "The step (threshold) function g(z) = 1 for z ≥ 0, 0 for z < 0 is flat on both sides of 0: "
    "its derivative is 0 wherever it exists and undefined at z = 0. Every chain rule product "
    "through it is therefore 0, gradient descent never changes a weight, and a perceptron is "
    "not trained by backpropagation; its weights are chosen by hand (as for the AND, OR, NAND "
    "and NOR gates) or found by the perceptron learning rule. Replace step by sigmoid to train it."
)

#: a truth table lists every binary input: up to this many inputs
MAX_INPUTS = 6


def is_perceptron(problem: Problem) -> bool:
    return all(layer.activation.name == "step" for layer in problem.layers)


def binary_inputs(n: int) -> list[tuple[float, ...]]:
    """Every input of 0s and 1s, x1 changing fastest: (0,0), (1,0), (0,1), (1,1) as the tables list them."""
    return [tuple(float(v) for v in reversed(bits)) for bits in itertools.product((0, 1), repeat=n)]


def probe(problem: Problem) -> tuple[Sample, ...]:
    """The problem's every binary input as samples (targets where the problem gives them)."""
    targets = {s.x: s.y for s in problem.data}
    n_out = problem.layers[-1].units
    return tuple(Sample(x, targets.get(x, (0.0,) * n_out)) for x in binary_inputs(problem.inputs))


def analyse(network: Network, problem: Problem) -> Perceptron | None:
    """The truth table and decision lines of a step network at ``problem``'s parameters."""
    if not is_perceptron(problem) or problem.inputs > MAX_INPUTS:
        return None
    return Perceptron(table(network, problem), tuple(boundaries(problem)))


def truth_table(problem: Problem) -> list[TruthRow]:
    return list(table(build_network(problem), problem))


def agrees(rows) -> bool | None:
    """Whether the outputs equal the problem's targets (None: the problem gives no targets for these inputs)."""
    return Perceptron(tuple(rows), ()).agrees


def table(network: Network, problem: Problem) -> tuple[TruthRow, ...]:
    """Every binary input through the engine's forward sweep: each unit's z and output."""
    samples = probe(problem)
    values = sweep.forward(network.graph, network.leaves(samples, np.array(problem.parameter_vector())))
    targets = {s.x: s.y for s in problem.data}
    graph = network.graph
    rows = []
    for k, sample in enumerate(samples):
        z = tuple(tuple(values[k, graph.family("z", l).ids].tolist()) for l in range(1, network.depth + 1))
        a = tuple(tuple(values[k, graph.family("a", l).ids].tolist()) for l in range(1, network.depth + 1))
        rows.append(TruthRow(sample.x, z, a, targets.get(sample.x)))
    return tuple(rows)


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
