"""The δ notation of source 004 (layers lettered backwards from the output: K, J, I, H, …):
w_{jk}^{(K)} from unit j to unit k; z_k^{(K)}, o_k^{(K)}; ∂L/∂z_k = δ_k^{(K)}; t_k;
\\mathcal{L}; η; an updated weight w'."""

from __future__ import annotations

from tracer.keys import Partial, Quantity
from tracer.notation.base import Theme
from tracer.notation.symbol import DELTA, ETA, SCRIPT_L, Symbol

LETTERS = "KJIHGFEDCBA"


class DeltaTheme(Theme):
    name = "delta"
    rate = ETA

    def layer_letter(self, l: int) -> str:
        return LETTERS[self.depth - l] if self.depth - l < len(LETTERS) else f"L{l}"

    def parts(self, q: Quantity) -> Symbol:
        kind = q.kind
        if kind == "zero":
            return Symbol("0")  # a convolution's padding
        if kind == "U" or len(q.index) > 2 or (kind == "W" and len(q.index) == 4) or (kind in ("x", "y", "z", "a", "loss") and len(q.index) == 2):
            # a recurrent weight u_{kj} (from state unit k one step before to unit j); an image, a
            # feature map (channel or filter, row, column), a kernel, a time step's input, state, target or term
            layer = f"({self.layer_letter(q.layer)})" if q.layer is not None else ()
            letter = {"x": "x", "y": "t", "z": "z", "a": "o", "W": "w", "U": "u", "loss": SCRIPT_L}[kind]
            index = (q.index[1], q.index[0]) if kind == "U" else q.index
            return Symbol(letter, index, layer)
        if kind == "x":
            return Symbol("x", q.index[0])
        if kind == "y":
            return Symbol("t", q.index[0])
        layer = f"({self.layer_letter(q.layer)})" if q.layer is not None else ()
        if kind in ("z", "a"):
            return Symbol("z" if kind == "z" else "o", q.index[0], layer)
        if kind == "W":
            j, i = q.index
            return Symbol("w", f"{i}{j}" if max(i, j) < 10 else (i, j), layer)
        if kind == "b":
            return Symbol("b", q.index[0] if q.index else (), layer)
        if kind == "loss":
            return Symbol(SCRIPT_L, q.index[0] if q.index else ())
        return Symbol(SCRIPT_L, prime=True)  # loss_after

    def mark_after(self, symbol: Symbol, times: int = 1) -> Symbol:
        return symbol.primed(times)

    def partial_parts(self, p: Partial) -> Symbol | None:
        """∂L/∂z_k^{(K)} is δ_k^{(K)}: the quantity the δ form propagates."""
        if p.of.kind == "loss" and not p.of.index and p.wrt.kind == "z":
            index = p.wrt.index[0] if len(p.wrt.index) == 1 else p.wrt.index
            return Symbol(DELTA, index, f"({self.layer_letter(p.wrt.layer)})")
        return None
