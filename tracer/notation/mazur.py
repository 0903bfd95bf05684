"""Mazur's notation ("A Step by Step Backpropagation Example", as Yeum's slides use it; source 002):
w1 … wn numbered layer by layer, unit by unit; net_{h1}, out_{h1}, net_{o1}, out_{o1};
i1, i2; target_{o1}; E_{o1}, E_{total}; η; an updated weight w_5^+."""

from __future__ import annotations

from tracer.keys import Quantity
from tracer.notation.base import Theme
from tracer.notation.symbol import ETA, Symbol


class MazurTheme(Theme):
    name = "mazur"
    rate = ETA
    plain_names = True

    def unit(self, l: int, j: int) -> str:
        """The unit's label: ``h1`` (the hidden layer of a 2-layer network), ``h21`` (layer 2,
        unit 1, deeper), ``o1`` (the output layer)."""
        if l == self.depth:
            return f"o{j}"
        if self.depth == 2:
            return f"h{j}"
        return f"h{l}{j}" if self.units[l] < 10 else f"h{l},{j}"

    def weight_number(self, l: int, j: int, i: int) -> int:
        before = sum(self.units[m] * self.units[m - 1] for m in range(1, l))
        return before + (j - 1) * self.units[l - 1] + i

    def parts(self, q: Quantity) -> Symbol:
        kind = q.kind
        if kind == "x":
            return Symbol("i", q.index[0])
        if kind == "y":
            return Symbol("target", f"o{q.index[0]}")
        if kind == "z":
            return Symbol("net", self.unit(q.layer, q.index[0]))
        if kind == "a":
            return Symbol("out", self.unit(q.layer, q.index[0]))
        if kind == "W":
            return Symbol("w", self.weight_number(q.layer, *q.index))
        if kind == "b":
            return Symbol("b", self.unit(q.layer, q.index[0]) if q.index else q.layer)
        if kind == "loss":
            return Symbol("E", f"o{q.index[0]}" if q.index else "total")
        return Symbol("E", "total", "+")  # loss_after
