"""Mazur's notation (source 002): w1 … wn numbered layer by layer, unit by unit;
net_{h1}, out_{h1}, net_{o1}, out_{o1}; i1, i2; target_{o1}; E_{o1}, E_{total}; η."""

from __future__ import annotations

from tracer.core.keys import Quantity
from tracer.notation.base import Theme, _sup


class MazurTheme(Theme):
    name = "mazur"
    loss = r"E_{total}"
    rate = r"\eta"
    ascii_rate = "eta"
    text_rate = "η"

    def unit(self, l: int, j: int) -> str:
        if l == self.depth:
            return f"o{j}"
        if self.depth == 2:
            return f"h{j}"
        return f"h{l}{j}" if self.units[l] < 10 else f"h{l},{j}"

    def weight_number(self, l: int, j: int, i: int) -> int:
        before = sum(self.units[m] * self.units[m - 1] for m in range(1, l))
        return before + (j - 1) * self.units[l - 1] + i

    def base_name(self, q: Quantity) -> str:
        if q.base == "x":
            return f"i_{{{q.index[0]}}}"
        if q.base == "y":
            return rf"target_{{o{q.index[0]}}}"
        if q.base == "z":
            return rf"net_{{{self.unit(q.layer, q.index[0])}}}"
        if q.base == "a":
            return rf"out_{{{self.unit(q.layer, q.index[0])}}}"
        if q.base == "W":
            return f"w_{{{self.weight_number(q.layer, *q.index)}}}"
        if q.base == "b":
            return f"b_{{{q.layer}}}" if not q.index else f"b_{{{self.unit(q.layer, q.index[0])}}}"
        if q.base == "loss":
            return f"E_{{o{q.index[0]}}}" if q.index else r"E_{total}"
        return r"E_{total}^{+}"  # loss_after

    def mark_sample(self, text: str, q: Quantity) -> str:
        return _sup(text, f"({q.sample})")

    def mark_after(self, text: str, q: Quantity) -> str:
        return _sup(text, "+")

    def ascii(self, q: Quantity) -> str | None:
        if q.base == "x":
            return f"i{q.index[0]}"
        if q.base == "y":
            return f"target_o{q.index[0]}"
        if q.base == "z":
            return f"net_{self.unit(q.layer, q.index[0])}"
        if q.base == "a":
            return f"out_{self.unit(q.layer, q.index[0])}"
        if q.base == "W":
            return f"w{self.weight_number(q.layer, *q.index)}"
        if q.base == "b":
            return f"b{q.layer}" if not q.index else f"b_{self.unit(q.layer, q.index[0])}"
        if q.base == "loss":
            return f"E_o{q.index[0]}" if q.index else "E_total"
        return None
