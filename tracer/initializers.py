"""Seeded initial weights for problem files too big to type: Xavier, He, uniform (NumPy only).

A layer may write ``weights: {init: xavier, seed: 1}`` instead of its matrix. The draws
follow ``torch.nn.init``'s definitions, from NumPy's ``default_rng(seed)`` (so the numbers
are reproducible, but not torch's own: torch has its own generator):

* ``xavier`` — ``xavier_uniform_`` (Glorot & Bengio 2010), gain 1:
  U(−a, a) with a = √(6 / (fan_in + fan_out));
* ``he`` — ``kaiming_normal_`` (He et al. 2015), ``mode="fan_in"``, ``nonlinearity="relu"``:
  N(0, σ²) with σ = √(2 / fan_in);
* ``uniform`` — ``uniform_``: U(low, high), torch's defaults low = 0, high = 1.

Fans are torch's: a dense or rnn matrix of one row per unit has fan_in = its row length
and fan_out = its number of rows; a conv2d kernel ``[filter][channel][row][column]`` has
fan_in = channels·k² and fan_out = filters·k². The values are drawn in the file's own
order (row by row, unit-major), one generator per block, so a layer's numbers do not
change when another layer's are edited.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: the ``init:`` names of a weights block, with the torch.nn.init function each one is
INITS = {"xavier": "xavier_uniform_", "he": "kaiming_normal_", "uniform": "uniform_"}


def xavier_bound(fan_in: int, fan_out: int) -> float:
    """The half-width a of Xavier's U(−a, a)."""
    return math.sqrt(6.0 / (fan_in + fan_out))


def he_std(fan_in: int) -> float:
    """The standard deviation σ of He's N(0, σ²) (``kaiming_normal_``, ReLU gain √2, fan_in mode)."""
    return math.sqrt(2.0 / fan_in)


def draw(init: str, seed: int, shape: tuple[int, ...], fan_in: int, fan_out: int, low: float = 0.0, high: float = 1.0) -> list[Any]:
    """The initial values of one weights block, as nested lists of ``shape`` (plain floats)."""
    rng = np.random.default_rng(seed)
    if init == "xavier":
        bound = xavier_bound(fan_in, fan_out)
        values = rng.uniform(-bound, bound, size=shape)
    elif init == "he":
        values = rng.normal(0.0, he_std(fan_in), size=shape)
    elif init == "uniform":
        values = rng.uniform(low, high, size=shape)
    else:
        raise ValueError(f"one of {', '.join(INITS)} expected, got {init!r}")
    return values.tolist()

