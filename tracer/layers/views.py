"""What a layer kind shows beside its scalar steps, as plain data (plan §5.4): the display
data a kind's module makes and a renderer reads, with no engine inside.

Today: a perceptron's truth table and decision lines (:mod:`tracer.layers.perceptron`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TruthRow:
    x: tuple[float, ...]
    z: tuple[tuple[float, ...], ...]  # per layer, per unit
    a: tuple[tuple[float, ...], ...]
    target: tuple[float, ...] | None

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


@dataclass(frozen=True)
class Perceptron:
    """A network of step units read as logic gates: its truth table and decision lines."""

    rows: tuple[TruthRow, ...]
    boundaries: tuple[Boundary, ...]

    @property
    def agrees(self) -> bool | None:
        """Whether the outputs equal the problem's targets (None: no targets for these inputs)."""
        given = [r for r in self.rows if r.target is not None]
        if not given:
            return None
        return all(tuple(r.output) == tuple(r.target) for r in given)  # type: ignore[arg-type]
