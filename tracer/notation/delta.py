"""The δ notation of source 004 (layers lettered backwards from the output: K, J, I, H, …):
w_{jk}^{(K)} from unit j to unit k; z_k^{(K)}, o_k^{(K)}; ∂L/∂z_k = δ_k^{(K)}; t_k;
\\mathcal{L}; η; an updated weight w'."""

from __future__ import annotations

from tracer.core.keys import Partial, Quantity
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

    def mark_after(self, symbol: Symbol) -> Symbol:
        return symbol.primed()

    def partial_parts(self, p: Partial) -> Symbol | None:
        """∂L/∂z_k^{(K)} is δ_k^{(K)}: the quantity the δ form propagates."""
        if p.of.kind == "loss" and not p.of.index and p.wrt.kind == "z":
            return Symbol(DELTA, p.wrt.index[0], f"({self.layer_letter(p.wrt.layer)})")
        return None
