"""The CS230 bracket notation (sources 001 and 003):
w_{i,j}^{[l]} from node i to node j, b_j^{[l]}, z_j^{[l]}, a_j^{[l]} (h_j for a single
hidden layer), \\hat{y}_k; J; λ. The sample and "new" (after the update) join the
subscript, as in z_{1,(1)}^{[1]} and w_{1,1,new}^{[2]}."""

from __future__ import annotations

from tracer.keys import Partial, Quantity
from tracer.notation.base import Theme
from tracer.notation.symbol import HAT_Y, LAMBDA, Symbol


class BracketTheme(Theme):
    name = "bracket"
    rate = LAMBDA

    def parts(self, q: Quantity) -> Symbol:
        kind = q.kind
        layer = f"[{q.layer}]"
        if kind == "zero":
            return Symbol("0")  # a convolution's padding
        if kind == "U":  # a recurrent weight, from state unit k of the step before to unit j
            j, k = q.index
            return Symbol("u", (k, j), layer)
        if len(q.index) > 2 or (kind == "W" and len(q.index) == 4) or (kind in ("x", "z", "a") and len(q.index) == 2):
            # an image, a feature map (channel or filter, row, column), a kernel (filter, channel, row, column)
            return Symbol("w" if kind == "W" else kind, q.index, () if kind in ("x", "y") else layer)
        if kind in ("x", "y"):
            return Symbol(kind, q.index[0])
        if kind == "z":
            return Symbol("z", q.index[0], layer)
        if kind == "a":
            if q.layer == self.depth:
                return Symbol(HAT_Y, q.index[0])
            if self.depth == 2:
                return Symbol("h", q.index[0])
            return Symbol("a", q.index[0], layer)
        if kind == "W":
            j, i = q.index
            return Symbol("w", (i, j), layer)
        if kind == "b":
            return Symbol("b", q.index[0] if q.index else (), layer)
        if kind == "loss":
            return Symbol("J", q.index[0] if q.index else ())
        return Symbol("J", (), "+")  # loss_after

    def mark_sample(self, symbol: Symbol, sample: int, key: Quantity | Partial) -> Symbol:
        return symbol.with_sub(f"({sample})")

    def mark_after(self, symbol: Symbol, times: int = 1) -> Symbol:
        """``w_{1,1,new}^{[1]}``; after the second update ``w_{1,1,new}^{[1](2)}``."""
        marked = symbol.with_sub("new")
        return marked if times == 1 else marked.with_sup(f"({times})")
