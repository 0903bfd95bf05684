"""Source 000's notation: x_1; N_j^{input}, N_j^{output}; O_k^{input}, O_k^{output} = Pred_k;
w_{1,N_1}, w_{N_1,O_1}; b_{N_1}, b_{O_1}; Act_k; CE^{sample_1}, CE^{total}; r; b'_{O_1}."""

from __future__ import annotations

from tracer.core.keys import Quantity
from tracer.notation.base import Theme


class NeuronTheme(Theme):
    name = "neuron"
    loss = r"CE^{total}"
    rate = "r"

    def node(self, l: int, j: int) -> str:
        if l == 0:
            return f"{j}"
        if l == self.depth:
            return f"O_{{{j}}}"
        if self.depth == 2:
            return f"N_{{{j}}}"
        return f"N_{{{l},{j}}}"

    def letter(self, l: int, j: int) -> str:
        return self.node(l, j)

    def quantity(self, q: Quantity) -> str:
        sample = f"sample_{{{q.sample}}}" if q.sample is not None else ""
        prime = "'" if q.after else ""
        if q.base == "x":
            text = f"x_{{{q.index[0]}}}"
            return text + (f"^{{{sample}}}" if sample else "")
        if q.base == "y":
            return f"Act_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
        if q.base in ("z", "a"):
            kind = "input" if q.base == "z" else "output"
            if q.base == "a" and q.layer == self.depth:
                return f"Pred_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
            sup = kind + (f",{sample}" if sample else "")
            return f"{self.node(q.layer, q.index[0])}^{{{sup}}}"
        if q.base == "W":
            j, i = q.index
            return f"w{prime}_{{{self.node(q.layer - 1, i)},{self.node(q.layer, j)}}}"
        if q.base == "b":
            if not q.index:
                return f"b{prime}_{{{q.layer}}}"
            return f"b{prime}_{{{self.node(q.layer, q.index[0])}}}"
        if q.base == "loss":
            if q.index:
                return f"CE_{{{q.index[0]}}}" + (f"^{{{sample}}}" if sample else "")
            return f"CE^{{{sample or 'total'}}}"
        return r"CE^{total}{}'"

    def base_name(self, q: Quantity) -> str:
        return self.quantity(Quantity(q.base, q.layer, q.index))
