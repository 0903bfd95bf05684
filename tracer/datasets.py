"""Small generated data sets for training runs: two moons, XOR, circles (NumPy only, seeded).

A problem file may give ``dataset: {name: moons, n: 1000, noise: 0.1, seed: 0,
test_fraction: 0.3}`` instead of ``data:``. The generators follow the geometry of
scikit-learn's ``make_moons`` / ``make_circles`` (source 004 §7.9 uses
``make_moons``), but draw their noise from NumPy's ``default_rng(seed)``: the points
are not scikit-learn's, only the same kind of cloud, so a run reproduces the text's
setting, not its exact numbers.

Every generator returns ``(X, labels)``: ``X`` of shape (n, 2), ``labels`` 0 or 1.
:func:`generate` shuffles (seeded) and splits off the last ``test_fraction`` for testing.
"""

from __future__ import annotations

import numpy as np


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: class 0 the upper one (centre (0, 0)), class 1 the lower
    one (centre (1, 0.5)), each of radius 1, plus Gaussian noise of standard deviation ``noise``."""
    n_outer = n // 2
    n_inner = n - n_outer
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_inner)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            np.column_stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5]),
        ]
    )
    labels = np.concatenate([np.zeros(n_outer, dtype=int), np.ones(n_inner, dtype=int)])
    return X + rng.normal(scale=noise, size=X.shape), labels


def circles(n: int, noise: float, rng: np.random.Generator, factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``."""
    n_outer = n // 2
    n_inner = n - n_outer
    outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            factor * np.column_stack([np.cos(inner), np.sin(inner)]),
        ]
    )
    labels = np.concatenate([np.zeros(n_outer, dtype=int), np.ones(n_inner, dtype=int)])
    return X + rng.normal(scale=noise, size=X.shape), labels


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The four corners of the unit square in turn ((0,0), (0,1), (1,0), (1,1)), each with
    Gaussian noise; the label is x1 XOR x2 of the corner."""
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    which = np.arange(n) % 4
    X = corners[which]
    labels = (corners[which, 0] != corners[which, 1]).astype(int)
    return X + rng.normal(scale=noise, size=X.shape), labels


GENERATORS = {"moons": moons, "circles": circles, "xor": xor}


def generate(spec) -> tuple[list[tuple[np.ndarray, int]], list[tuple[np.ndarray, int]]]:
    """The training and test samples of a :class:`tracer.spec.DatasetSpec`, as (x, label) pairs.

    One generator ``default_rng(seed)`` draws the noise, then the shuffle; the last
    ``round(n · test_fraction)`` shuffled samples are the test set.
    """
    if spec.name not in GENERATORS:
        raise ValueError(f"unknown data set {spec.name!r}; one of {', '.join(GENERATORS)}")
    rng = np.random.default_rng(spec.seed)
    if spec.name == "circles":
        X, labels = circles(spec.n, spec.noise, rng, spec.factor)
    else:
        X, labels = GENERATORS[spec.name](spec.n, spec.noise, rng)
    order = rng.permutation(spec.n)
    X, labels = X[order], labels[order]
    n_test = int(round(spec.n * spec.test_fraction))
    n_train = spec.n - n_test
    pairs = [(X[k], int(labels[k])) for k in range(spec.n)]
    return pairs[:n_train], pairs[n_train:]
