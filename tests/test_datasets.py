"""Generated data sets (tracer.datasets): NumPy only, seeded, split, wired into the problem file."""

from __future__ import annotations

import numpy as np
import pytest

from tracer import datasets
from tracer.spec import DatasetSpec, from_mapping


def test_moons_lie_on_two_half_circles_without_noise():
    X, labels = datasets.moons(100, 0.0, np.random.default_rng(0))
    upper, lower = X[labels == 0], X[labels == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (upper[:, 1] >= 0).all() and (lower[:, 1] <= 0.5).all()


def test_circles_and_xor():
    X, labels = datasets.circles(40, 0.0, np.random.default_rng(0), factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radius[labels == 0], 1.0) and np.allclose(radius[labels == 1], 0.3)
    X, labels = datasets.xor(8, 0.0, np.random.default_rng(0))
    assert [tuple(x) + (c,) for x, c in zip(X[:4], labels[:4])] == [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)]


def test_generate_is_seeded_and_splits():
    spec = DatasetSpec("moons", 200, 0.1, 7, 0.25)
    train, test = datasets.generate(spec)
    again, _ = datasets.generate(spec)
    other, _ = datasets.generate(DatasetSpec("moons", 200, 0.1, 8, 0.25))
    assert (len(train), len(test)) == (150, 50)
    assert all((a[0] == b[0]).all() for a, b in zip(train, again))
    assert not all((a[0] == b[0]).all() for a, b in zip(train, other))


def test_dataset_in_a_problem_file_gives_one_hot_labels_and_test_data():
    problem = from_mapping(
        {
            "network": {"inputs": 2, "layers": [{"units": 2, "activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, 0.4]]}]},
            "loss": {"kind": "mse"},
            "dataset": {"name": "xor", "n": 20, "noise": 0.05, "seed": 1, "test_fraction": 0.2},
            "training": {"learning_rate": 0.5, "epochs": 3, "batch_size": 4},
        }
    )
    assert (len(problem.data), len(problem.test_data)) == (16, 4)
    assert all(s.y in ((1.0, 0.0), (0.0, 1.0)) and s.label in (0, 1) for s in problem.data)
    assert problem.training.steps == 3 * 4  # epochs × batches of 4 out of 16
    assert "xor (n 20, noise 0.05, seed 1), 4 held out for testing" in problem.describe()


@pytest.mark.parametrize("inputs", [1, 3])
def test_dataset_needs_two_inputs(inputs):
    from tracer.spec import SpecError

    with pytest.raises(SpecError, match="dataset.name: moons has 2 features"):
        from_mapping(
            {
                "network": {"inputs": inputs, "layers": [{"units": 1, "activation": "sigmoid", "weights": [[0.1] * inputs]}]},
                "loss": {"kind": "mse"},
                "dataset": {"name": "moons", "n": 20},
                "training": {"learning_rate": 0.5},
            }
        )
