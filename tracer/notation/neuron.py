"""The neuron notation (source 000, a blog's 2-2-3 classifier worked by hand): x_1;
N_j^{input}, N_j^{output}; O_k^{input}, O_k^{output} = Pred_k; w_{1,N_1}, w_{N_1,O_1};
b_{N_1}, b_{O_1}; Act_k; CE^{sample_1}, CE^{total}; r; an updated bias b'_{O_1}."""

from __future__ import annotations

from dataclasses import replace

from tracer.keys import Partial, Quantity
from tracer.notation.base import Theme
from tracer.notation.symbol import Glyph, Symbol


class NeuronTheme(Theme):
    name = "neuron"
    rate = Glyph("r", "r")

    def node(self, l: int, j: int) -> str | Symbol:
        """An input by its number; a unit by its name: N_1 (hidden), N_{2,1} (layer 2 of a
        deeper network), O_1 (output)."""
        if l == 0:
            return f"{j}"
        if l == self.depth:
            return Symbol("O", j)
        if self.depth == 2:
            return Symbol("N", j)
        return Symbol("N", (l, j))

    def parts(self, q: Quantity) -> Symbol:
        kind = q.kind
        if kind == "x":
            return Symbol("x", q.index[0])
        if kind == "y":
            return Symbol("Act", q.index[0])
        if kind == "a" and q.layer == self.depth:
            return Symbol("Pred", q.index[0])
        if kind in ("z", "a"):
            node = self.node(q.layer, q.index[0])
            assert isinstance(node, Symbol)
            return node.with_sup("input" if kind == "z" else "output")
        if kind == "W":
            j, i = q.index
            return Symbol("w", (self.node(q.layer - 1, i), self.node(q.layer, j)))
        if kind == "b":
            return Symbol("b", self.node(q.layer, q.index[0]) if q.index else q.layer)
        if kind == "loss":
            return Symbol("CE", q.index[0]) if q.index else Symbol("CE", (), "total")
        return Symbol("CE", (), "total", prime=True)  # loss_after

    def mark_sample(self, symbol: Symbol, sample: int, key: Quantity | Partial) -> Symbol:
        """``N_1^{input,sample_1}``; one sample's loss is ``CE^{sample_1}`` (in place of ``total``)."""
        mark = Symbol("sample", sample)
        if isinstance(key, Quantity) and key.kind == "loss" and not key.index:
            return replace(symbol, sup=(mark,))
        return symbol.with_sup(mark)

    def mark_after(self, symbol: Symbol, times: int = 1) -> Symbol:
        return symbol.primed(times)
