"""Source 004's notation: layers lettered backwards from the output (K, J, I, H, …);
w_{jk}^{(K)} from unit j to unit k; z_k^{(K)}, o_k^{(K)}; ∂L/∂z_k = δ_k^{(K)}; t_k; \\mathcal{L}; η."""

from __future__ import annotations

from tracer.core.keys import Partial, Quantity
from tracer.notation.base import Theme

LETTERS = "KJIHGFEDCBA"


class DeltaTheme(Theme):
    name = "delta"
    loss = r"\mathcal{L}"
    rate = r"\eta"

    def layer_letter(self, l: int) -> str:
        return LETTERS[self.depth - l] if self.depth - l < len(LETTERS) else f"L{l}"

    def quantity(self, q: Quantity) -> str:
        sample = f"({q.sample})" if q.sample is not None else ""
        if q.base == "x":
            return f"x_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
        if q.base == "y":
            return f"t_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
        if q.base in ("z", "a"):
            letter = "z" if q.base == "z" else "o"
            sup = f"({self.layer_letter(q.layer)})" + (f",{sample}" if sample else "")
            return f"{letter}_{{{q.index[0]}}}^{{{sup}}}"
        if q.base == "W":
            j, i = q.index
            after = "{w'}" if q.after else "w"
            return f"{after}_{{{i}{j}}}^{{({self.layer_letter(q.layer)})}}" if max(i, j) < 10 else f"{after}_{{{i},{j}}}^{{({self.layer_letter(q.layer)})}}"
        if q.base == "b":
            after = "{b'}" if q.after else "b"
            sub = f"{q.index[0]}" if q.index else ""
            return f"{after}_{{{sub}}}^{{({self.layer_letter(q.layer)})}}" if sub else f"{after}^{{({self.layer_letter(q.layer)})}}"
        if q.base == "loss":
            if q.index:
                return rf"\mathcal{{L}}_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
            return r"\mathcal{L}" + (f"^{{{sample}}}" if sample else "")
        return r"\mathcal{L}'"

    def base_name(self, q: Quantity) -> str:
        return self.quantity(Quantity(q.base, q.layer, q.index))

    def partial(self, p: Partial) -> str | None:
        """∂L/∂z_k^{(K)} is δ_k^{(K)}: the quantity the delta form propagates."""
        if p.of.base == "loss" and not p.of.index and p.wrt.base == "z":
            sample = f",({p.sample})" if p.sample is not None else ""
            return rf"\delta_{{{p.wrt.index[0]}}}^{{({self.layer_letter(p.wrt.layer)}){sample}}}"
        return None
